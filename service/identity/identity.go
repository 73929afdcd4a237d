// Package identity tells which instance answered: the EC2 instance identity from IMDSv2 (through the AWS
// SDK, which does the token dance), or the hostname and "local" off EC2. It also watches the instance
// metadata for the signs that the instance is about to leave service.
package identity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// Identity is what GET / shows.
type Identity struct {
	InstanceID       string `json:"instance_id"`
	AvailabilityZone string `json:"availability_zone"`
	AMIID            string `json:"ami_id"`
	InstanceType     string `json:"instance_type"`
	PrivateIP        string `json:"private_ip"`
	Region           string `json:"region"`
	Hostname         string `json:"hostname"`
	Source           string `json:"source"` // "imds" or "local"
}

// Local is the identity off EC2: the hostname stands for the instance id.
func Local() Identity {
	h, err := os.Hostname()
	if err != nil {
		h = "unknown"
	}
	return Identity{InstanceID: h, AvailabilityZone: "local", Hostname: h, Source: "local"}
}

// Client asks IMDSv2 with a short deadline per call: metadata is local to the host, so anything slower
// means there is none.
type Client struct {
	imds    *imds.Client
	timeout time.Duration
}

// NewClient talks to endpoint, or to the SDK's default (169.254.169.254) when it is empty.
func NewClient(endpoint string, timeout time.Duration) *Client {
	return &Client{
		imds: imds.New(imds.Options{
			Endpoint:       endpoint,
			EnableFallback: aws.FalseTernary, // IMDSv2 only: the launch template requires tokens
			Retryer:        aws.NopRetryer{},
			HTTPClient:     &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConns: 2}},
		}),
		timeout: timeout,
	}
}

// Identity reads the instance identity document.
func (c *Client) Identity(ctx context.Context) (Identity, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	doc, err := c.imds.GetInstanceIdentityDocument(ctx, &imds.GetInstanceIdentityDocumentInput{})
	if err != nil {
		return Identity{}, fmt.Errorf("instance identity: %w", err)
	}
	host, _ := c.get(ctx, "local-hostname")
	if host == "" {
		host = Local().Hostname
	}
	return Identity{
		InstanceID: doc.InstanceID, AvailabilityZone: doc.AvailabilityZone, AMIID: doc.ImageID,
		InstanceType: doc.InstanceType, PrivateIP: doc.PrivateIP, Region: doc.Region,
		Hostname: host, Source: "imds",
	}, nil
}

// errNotFound is IMDS's 404: the path has no value now (e.g. no spot interruption scheduled).
var errNotFound = errors.New("not found")

// get reads one metadata path as text.
func (c *Client) get(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	out, err := c.imds.GetMetadata(ctx, &imds.GetMetadataInput{Path: path})
	if err != nil {
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
			return "", errNotFound
		}
		return "", err
	}
	defer out.Content.Close()
	b, err := io.ReadAll(io.LimitReader(out.Content, 4096))
	return strings.TrimSpace(string(b)), err
}

// Holder keeps the identity that GET / shows; it starts Local and is replaced once IMDS answers.
type Holder struct{ v atomic.Pointer[Identity] }

// NewHolder starts with id.
func NewHolder(id Identity) *Holder {
	h := &Holder{}
	h.Set(id)
	return h
}

// Get returns the current identity.
func (h *Holder) Get() Identity { return *h.v.Load() }

// Set replaces it.
func (h *Holder) Set(id Identity) { h.v.Store(&id) }
