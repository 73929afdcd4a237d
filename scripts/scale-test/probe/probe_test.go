package probe

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/scaleapp/scaleapp/internal/localfleet"
)

// Light jobs: the point is the HTTP contract, not the CPU.
var light = Stress{Seconds: 30, Load: 5}

func TestNewRejectsBadInput(t *testing.T) {
	cases := []struct {
		url     string
		samples int
		want    string
	}{
		{"", 5, "want http(s)://host"},
		{"alb.example.com", 5, "want http(s)://host"},
		{"ftp://alb", 5, "want http(s)://host"},
		{"http://alb", 0, "samples per poll must be >= 1"},
	}
	for _, c := range cases {
		if _, err := New(c.url, "", c.samples); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%q, %d) err = %v, want %q", c.url, c.samples, err, c.want)
		}
	}
}

func TestAgainstLocalFleet(t *testing.T) {
	bin := localfleet.BuildScaleapp(t)
	ctx := context.Background()

	t.Run("token fleet", func(t *testing.T) {
		f := localfleet.Start(t, bin, 2, localfleet.Options{Env: []string{"STRESS_TOKEN=s3cret-for-test"}})
		want := []string{f.Instances[0].ID, f.Instances[1].ID}

		c, err := New(f.URL, "s3cret-for-test", 6)
		if err != nil {
			t.Fatal(err)
		}
		ids, failed, err := c.Answering(ctx)
		if err != nil || failed != 0 || !slices.Equal(ids, want) {
			t.Fatalf("Answering = %v, %v; want %v", ids, err, want)
		}

		started, err := c.StartOnAll(ctx, light, 2, 8)
		if err != nil || started != 2 {
			t.Fatalf("StartOnAll = %d, %v; want 2 jobs started", started, err)
		}
		if again, err := c.StartCPU(ctx, light); err != nil || again {
			t.Fatalf("a third start = %v, %v; want false (409: already running)", again, err)
		}
		stopped, err := c.StopAll(ctx, 10, 2)
		if err != nil || stopped != 2 {
			t.Fatalf("StopAll = %d, %v; want 2 jobs stopped", stopped, err)
		}

		noToken := noTokenClient(f.URL)
		if _, err := noToken.StartCPU(ctx, light); err == nil || !strings.Contains(err.Error(), "set STRESS_TOKEN") {
			t.Errorf("start without the token: %v, want a 401 that names STRESS_TOKEN", err)
		}
		wrong, _ := New(f.URL, "wrong", 1)
		if _, err := wrong.StartCPU(ctx, light); err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("start with a wrong token: %v, want 401", err)
		}
		if _, err := c.StartCPU(ctx, Stress{Seconds: 0, Load: 5}); err == nil || !strings.Contains(err.Error(), "POST /cpu: 400") {
			t.Errorf("start with seconds=0: %v, want the service's 400", err)
		}

		// FailOne names the instance that took the failure, which answers /health 503 from then on.
		victim, err := c.FailOne(ctx, 60, 10)
		if err != nil || !slices.Contains(want, victim) {
			t.Fatalf("FailOne = %q, %v; want one of %v", victim, err, want)
		}
		for _, in := range f.Instances {
			resp, err := http.Get(in.URL + "/health")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if (resp.StatusCode == http.StatusServiceUnavailable) != (in.ID == victim) {
				t.Errorf("%s /health = %d after FailOne named %s", in.ID, resp.StatusCode, victim)
			}
		}
		if _, err := noTokenClient(f.URL).FailOne(ctx, 60, 10); err == nil || !strings.Contains(err.Error(), "set STRESS_TOKEN") {
			t.Errorf("FailOne without the token: %v, want a 401 that names STRESS_TOKEN", err)
		}
		if _, err := c.FailOne(ctx, 7200, 10); err == nil || !strings.Contains(err.Error(), "POST /health/fail: 400") {
			t.Errorf("FailOne beyond the service's cap: %v, want its 400", err)
		}

		// One instance goes away: the other still answers, and the failures are reported.
		f.Instances[1].Stop()
		ids, failed, err = c.Answering(ctx)
		if !slices.Equal(ids, want[:1]) || failed != 3 || err == nil || !strings.Contains(err.Error(), "3 of 6 requests failed") {
			t.Errorf("Answering with one instance down = %v, %v; want %v and 3 of 6 failed", ids, err, want[:1])
		}
	})

	t.Run("stress disabled", func(t *testing.T) {
		f := localfleet.Start(t, bin, 1, localfleet.Options{Env: []string{"STRESS_ENABLED=false"}})
		c, _ := New(f.URL, "", 1)
		if _, err := c.StartCPU(ctx, light); err == nil || !strings.Contains(err.Error(), "STRESS_ENABLED=false") {
			t.Errorf("start on a disabled fleet: %v, want 403 naming STRESS_ENABLED", err)
		}
		if _, err := c.FailOne(ctx, 60, 3); err == nil || !strings.Contains(err.Error(), "STRESS_ENABLED=false") {
			t.Errorf("failure injection on a disabled fleet: %v, want 403 naming STRESS_ENABLED", err)
		}
	})
}

func noTokenClient(url string) *Client {
	c, _ := New(url, "", 1)
	return c
}
