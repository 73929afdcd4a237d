// Package probe is the HTTP side of the scale test: it talks to scaleapp through the load balancer to
// start and stop CPU stress jobs, to make one instance fail its health check, and to see which
// instances answer.
package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Client talks to one base URL (the ALB, or a local proxy in tests).
type Client struct {
	Base    *url.URL
	Token   string       // STRESS_TOKEN; sent as a bearer token, never logged
	HTTP    *http.Client // a client with a timeout; New sets one
	Samples int          // GETs to / per Answering call
}

// New checks the URL and returns a client with a 5 s timeout per request, like an ALB health check.
func New(rawURL, token string, samples int) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("URL %q: want http(s)://host[:port]", rawURL)
	}
	if samples < 1 {
		return nil, fmt.Errorf("samples per poll must be >= 1, got %d", samples)
	}
	return &Client{Base: u, Token: token, HTTP: &http.Client{Timeout: 5 * time.Second}, Samples: samples}, nil
}

func (c *Client) url(path string, q url.Values) string {
	u := *c.Base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = q.Encode()
	return u.String()
}

// do sends one request and returns status and body (bounded: the answers here are small JSON).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, auth bool) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, q), nil)
	if err != nil {
		return 0, nil, err
	}
	if auth && c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: reading body: %w", method, path, err)
	}
	return resp.StatusCode, body, nil
}

// Identity is the instance id of whoever answers GET /.
func (c *Client) Identity(ctx context.Context) (string, error) {
	code, body, err := c.do(ctx, http.MethodGet, "/", nil, false)
	if err != nil {
		return "", err
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("GET /: %d %s", code, strings.TrimSpace(string(body)))
	}
	var id struct {
		InstanceID string `json:"instance_id"`
	}
	if err := json.Unmarshal(body, &id); err != nil || id.InstanceID == "" {
		return "", fmt.Errorf("GET /: no instance_id in %.120q", body)
	}
	return id.InstanceID, nil
}

// Answering sends Samples GETs to / and returns the distinct instance ids, sorted, and how many requests
// failed. Failed requests are counted into the error but do not hide the ids that did answer.
func (c *Client) Answering(ctx context.Context) ([]string, int, error) {
	var ids []string
	failed, firstErr := 0, error(nil)
	for range c.Samples {
		id, err := c.Identity(ctx)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			failed++
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if failed > 0 {
		return ids, failed, fmt.Errorf("%d of %d requests failed, first: %w", failed, c.Samples, firstErr)
	}
	return ids, 0, nil
}

// FailOne makes whichever instance the load balancer picks answer /health with 503 UNHEALTHY for the
// given seconds (POST /health/fail), and returns that instance's id. The POST's answer does not say who
// answered, so it asks GET /health?verbose=1 (at most attempts times) until an instance answers 503
// UNHEALTHY with the very failed_until the POST returned: that is the one, whatever else is unhealthy.
func (c *Client) FailOne(ctx context.Context, seconds, attempts int) (string, error) {
	code, body, err := c.do(ctx, http.MethodPost, "/health/fail", url.Values{"seconds": {strconv.Itoa(seconds)}}, true)
	if err != nil {
		return "", err
	}
	switch code {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return "", fmt.Errorf("POST /health/fail: 401: the instances need a token: set STRESS_TOKEN in the environment")
	case http.StatusForbidden:
		return "", fmt.Errorf("POST /health/fail: 403: failure injection is disabled on the instances (STRESS_ENABLED=false)")
	default:
		return "", fmt.Errorf("POST /health/fail: %d %s", code, strings.TrimSpace(string(body)))
	}
	var injected struct {
		Until string `json:"failed_until"`
	}
	if err := json.Unmarshal(body, &injected); err != nil || injected.Until == "" {
		return "", fmt.Errorf("POST /health/fail: no failed_until in %.120q", body)
	}
	for range attempts {
		code, body, err := c.do(ctx, http.MethodGet, "/health", url.Values{"verbose": {"1"}}, false)
		if err != nil || code != http.StatusServiceUnavailable {
			continue
		}
		var rep struct {
			Status   string `json:"status"`
			Until    string `json:"failed_until"`
			Instance struct {
				ID string `json:"instance_id"`
			} `json:"instance"`
		}
		if json.Unmarshal(body, &rep) == nil && rep.Status == "UNHEALTHY" && rep.Until == injected.Until && rep.Instance.ID != "" {
			return rep.Instance.ID, nil
		}
	}
	return "", fmt.Errorf("the failure until %s was injected, but no instance owned it in %d GET /health?verbose=1", injected.Until, attempts)
}

// Stress is a /cpu job request.
type Stress struct {
	Seconds int // job length
	Load    int // percent of each core, 1-100
}

// StartCPU asks whoever answers to start a stress job: true when it started one (202), false when that
// instance already runs one (409). Any other answer is an error that says what to fix.
func (c *Client) StartCPU(ctx context.Context, s Stress) (bool, error) {
	q := url.Values{"seconds": {strconv.Itoa(s.Seconds)}, "load": {strconv.Itoa(s.Load)}}
	code, body, err := c.do(ctx, http.MethodPost, "/cpu", q, true)
	if err != nil {
		return false, err
	}
	switch code {
	case http.StatusAccepted:
		return true, nil
	case http.StatusConflict:
		return false, nil
	case http.StatusUnauthorized:
		return false, fmt.Errorf("POST /cpu: 401: the instances need a token: set STRESS_TOKEN in the environment")
	case http.StatusForbidden:
		return false, fmt.Errorf("POST /cpu: 403: stress is disabled on the instances (STRESS_ENABLED=false)")
	default:
		return false, fmt.Errorf("POST /cpu: %d %s", code, strings.TrimSpace(string(body)))
	}
}

// StartOnAll starts a job on up to want instances. Requests through the ALB land on any target, so it
// keeps asking (at most attempts times) until want jobs started; an instance already busy answers 409.
func (c *Client) StartOnAll(ctx context.Context, s Stress, want, attempts int) (int, error) {
	started := 0
	for i := 0; i < attempts && started < want; i++ {
		ok, err := c.StartCPU(ctx, s)
		if err != nil {
			return started, err
		}
		if ok {
			started++
		}
	}
	return started, nil
}

// StopAll sends DELETE /cpu until attempts run out or every instance answered 404 (no job) in a row
// `quiet` times, so the group can scale back in after the test.
func (c *Client) StopAll(ctx context.Context, attempts, quiet int) (int, error) {
	stopped, idle := 0, 0
	for i := 0; i < attempts && idle < quiet; i++ {
		code, body, err := c.do(ctx, http.MethodDelete, "/cpu", nil, true)
		if err != nil {
			return stopped, err
		}
		switch code {
		case http.StatusOK:
			stopped++
			idle = 0
		case http.StatusNotFound:
			idle++
		default:
			return stopped, fmt.Errorf("DELETE /cpu: %d %s", code, strings.TrimSpace(string(body)))
		}
	}
	return stopped, nil
}
