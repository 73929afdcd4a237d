package identity

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeIMDS speaks IMDSv2 as EC2 does: a PUT for a token first, and 401 for any GET without it.
type fakeIMDS struct {
	mu        sync.Mutex
	values    map[string]string
	unauthGET atomic.Int32
}

func (f *fakeIMDS) set(path, v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.values[path] = v
}

func (f *fakeIMDS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const token = "tok-123"
	if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
		ttl := r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds")
		if ttl == "" {
			http.Error(w, "missing ttl", http.StatusBadRequest)
			return
		}
		w.Header().Set("X-aws-ec2-metadata-token-ttl-seconds", ttl)
		_, _ = w.Write([]byte(token))
		return
	}
	if r.Header.Get("X-aws-ec2-metadata-token") != token {
		f.unauthGET.Add(1)
		http.Error(w, "", http.StatusUnauthorized)
		return
	}
	f.mu.Lock()
	v, ok := f.values[r.URL.Path]
	f.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	_, _ = w.Write([]byte(v))
}

func newFake(t *testing.T) (*fakeIMDS, *Client) {
	f := &fakeIMDS{values: map[string]string{
		"/latest/dynamic/instance-identity/document": `{"instanceId":"i-0abc","availabilityZone":"eu-west-1b",
			"imageId":"ami-0123","instanceType":"t3.micro","privateIp":"10.0.1.7","region":"eu-west-1"}`,
		"/latest/meta-data/local-hostname":                     "ip-10-0-1-7.eu-west-1.compute.internal",
		"/latest/meta-data/autoscaling/target-lifecycle-state": "InService",
	}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, NewClient(srv.URL, 300*time.Millisecond)
}

func TestIdentityFromIMDSv2(t *testing.T) {
	f, c := newFake(t)
	id, err := c.Identity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := Identity{InstanceID: "i-0abc", AvailabilityZone: "eu-west-1b", AMIID: "ami-0123", InstanceType: "t3.micro",
		PrivateIP: "10.0.1.7", Region: "eu-west-1", Hostname: "ip-10-0-1-7.eu-west-1.compute.internal", Source: "imds"}
	if id != want {
		t.Fatalf("got %+v\nwant %+v", id, want)
	}
	if n := f.unauthGET.Load(); n != 0 {
		t.Fatalf("%d GETs without a token: IMDSv1 fallback must be off", n)
	}
}

func TestNoIMDSFailsFast(t *testing.T) {
	// A port nothing listens on: connection refused, as off EC2 with an explicit endpoint.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c := NewClient(url, 300*time.Millisecond)
	start := time.Now()
	if _, err := c.Identity(context.Background()); err == nil {
		t.Fatal("identity without IMDS")
	}
	// Refused at once; the limit leaves room for a busy machine and is far below a hanging call.
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("took %s; off EC2 the start must not wait", took)
	}
	if l := Local(); l.AvailabilityZone != "local" || l.InstanceID == "" || l.Source != "local" {
		t.Fatalf("Local() = %+v", l)
	}
}

func TestLeaving(t *testing.T) {
	cases := []struct {
		name   string
		values map[string]string
		want   string
	}{
		{"in service", nil, ""},
		{"terminated", map[string]string{"/latest/meta-data/autoscaling/target-lifecycle-state": "Terminated"},
			"target lifecycle state is Terminated"},
		{"warmed", map[string]string{"/latest/meta-data/autoscaling/target-lifecycle-state": "Warmed:Stopped"}, ""},
		{"spot notice", map[string]string{"/latest/meta-data/spot/instance-action": `{"action": "terminate", "time": "2026-11-29T08:22:00Z"}`},
			`spot interruption notice: {"action": "terminate"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, cl := newFake(t)
			for k, v := range c.values {
				f.set(k, v)
			}
			got, err := cl.Leaving(context.Background())
			if err != nil || (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Fatalf("Leaving = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestWatchCallsLeaveOnce(t *testing.T) {
	f, c := newFake(t)
	reasons := make(chan string, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		c.Watch(ctx, 20*time.Millisecond, func(r string) { reasons <- r }, func(err error) { t.Errorf("poll: %v", err) }, nil)
		close(done)
	}()
	time.Sleep(100 * time.Millisecond)
	f.set("/latest/meta-data/autoscaling/target-lifecycle-state", "Terminated")
	select {
	case r := <-reasons:
		if !strings.Contains(r, "Terminated") {
			t.Fatalf("reason %q", r)
		}
	case <-ctx.Done():
		t.Fatal("no drain after the lifecycle state became Terminated")
	}
	<-done
	if len(reasons) != 0 {
		t.Fatal("leave called twice")
	}
}

// TestWatchLooksAtStart: an instance that is already Terminated when the service starts drains at once,
// not one poll interval later.
func TestWatchLooksAtStart(t *testing.T) {
	f, c := newFake(t)
	f.set("/latest/meta-data/autoscaling/target-lifecycle-state", "Terminated")
	reasons := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Watch(ctx, time.Hour, func(r string) { reasons <- r }, func(err error) { t.Errorf("poll: %v", err) }, nil)
	select {
	case r := <-reasons:
		if !strings.Contains(r, "Terminated") {
			t.Fatalf("reason %q", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no drain within 10 s for an instance Terminated at start (poll interval 1 h)")
	}
}

// TestSilentIMDSFailsFast: off EC2, 169.254.169.254 usually drops packets instead of refusing; a
// listener that accepts and never answers stands in for it. The fallback must come within the budget.
func TestSilentIMDSFailsFast(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	c := NewClient(srv.URL, 300*time.Millisecond)
	start := time.Now()
	if _, err := c.Identity(context.Background()); err == nil {
		t.Fatal("identity from a silent endpoint")
	}
	// Without the deadline it would hang; the upper limit leaves room for a busy machine.
	if took := time.Since(start); took < 250*time.Millisecond || took > 3*time.Second {
		t.Fatalf("gave up after %s, want about 300 ms", took)
	}
}
