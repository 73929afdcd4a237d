package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scaleapp/scaleapp/service/config"
	"github.com/scaleapp/scaleapp/service/cpustat"
	"github.com/scaleapp/scaleapp/service/health"
	"github.com/scaleapp/scaleapp/service/identity"
	"github.com/scaleapp/scaleapp/service/stress"
)

// newTestAPI returns a handler over fresh state; change tweaks the configuration first.
func newTestAPI(t *testing.T, change func(*config.Config)) (http.Handler, *health.State, *stress.Manager) {
	t.Helper()
	cfg, err := config.Load(nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(&cfg)
	}
	st := health.NewState(time.Now)
	sm := stress.NewManager(true, nil)
	t.Cleanup(func() { sm.Stop() })
	h := New(Deps{Config: cfg, Health: st, Stress: sm, Identity: identity.NewHolder(identity.Local()),
		Log: zerolog.Nop(), Started: time.Now(),
		CPU: cpustat.New()})
	return h, st, sm
}

func do(h http.Handler, method, target string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// errorOf decodes a JSON error body and fails the test if the body is not one.
func errorOf(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type = %q, want application/json (body %q)", ct, rec.Body)
	}
	var e struct{ Error string }
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
		t.Fatalf("body %q is not a JSON error", rec.Body)
	}
	return e.Error
}

func TestBadRequests(t *testing.T) {
	h, _, _ := newTestAPI(t, nil)
	cases := []struct {
		method, target string
		code           int
		errPart        string
	}{
		{"GET", "/cpu?seconds=abc", 400, "not a number"},
		{"GET", "/cpu?seconds=", 400, "not a number"},
		{"GET", "/cpu?seconds=0", 400, "out of range"},
		{"GET", "/cpu?seconds=-5", 400, "out of range"},
		{"GET", "/cpu?seconds=901", 400, "at most 900"},
		{"GET", "/cpu?seconds=NaN", 400, "not a number"},
		{"GET", "/cpu?seconds=Inf", 400, "not a number"},
		{"GET", "/cpu?seconds=0.0000001", 400, "shorter than a millisecond"},
		{"GET", "/cpu?seconds=1&seconds=2", 400, "given 2 times"},
		{"GET", "/cpu?load=0", 400, "from 1 to 100"},
		{"GET", "/cpu?load=101", 400, "from 1 to 100"},
		{"GET", "/cpu?load=50.5", 400, "not a whole number"},
		{"GET", "/cpu?workers=0", 400, "out of range"},
		{"GET", "/cpu?workers=100000", 400, "out of range"},
		{"POST", "/cpu?second=30", 400, `unknown parameter "second"`},
		{"GET", "/cpu?%zz", 400, "malformed query"},
		{"DELETE", "/cpu?x=1", 400, "takes no parameters"},
		{"DELETE", "/cpu", 404, "no CPU stress job"},
		{"GET", "/cpu/status?x", 400, "takes no parameters"},
		{"PUT", "/cpu", 405, "not allowed"},
		{"HEAD", "/cpu", 405, "would start a CPU stress job"},
		{"POST", "/health", 405, "not allowed"},
		{"GET", "/health?verbose=maybe", 400, "true/false"},
		{"POST", "/health/fail?seconds=x", 400, "not a number"},
		{"POST", "/health/fail?seconds=3601", 400, "out of range"},
		{"GET", "/health/fail", 405, "not allowed"},
		{"DELETE", "/health/fail", 404, "no failure"},
		{"GET", "/nope", 404, "no such endpoint"},
		{"POST", "/version", 405, "not allowed"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.target, func(t *testing.T) {
			rec := do(h, c.method, c.target, nil)
			if rec.Code != c.code {
				t.Fatalf("code %d, want %d (body %s)", rec.Code, c.code, rec.Body)
			}
			if msg := errorOf(t, rec); !strings.Contains(msg, c.errPart) {
				t.Fatalf("error %q does not say %q", msg, c.errPart)
			}
		})
	}
}

func TestMethodNotAllowedListsAllow(t *testing.T) {
	h, _, _ := newTestAPI(t, nil)
	rec := do(h, "PATCH", "/health/fail", nil)
	if got := rec.Header().Get("Allow"); got != "DELETE, POST" {
		t.Fatalf("Allow = %q", got)
	}
}

func TestHealth(t *testing.T) {
	h, st, _ := newTestAPI(t, nil)
	check := func(wantCode int, wantBody string) {
		t.Helper()
		rec := do(h, "GET", "/health", nil)
		if rec.Code != wantCode || rec.Body.String() != wantBody {
			t.Fatalf("GET /health = %d %q, want %d %q", rec.Code, rec.Body, wantCode, wantBody)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Fatalf("Content-Type %q", ct)
		}
	}
	check(200, "UP")
	if rec := do(h, "HEAD", "/health", nil); rec.Code != 200 {
		t.Fatalf("HEAD /health = %d", rec.Code)
	}
	if rec := do(h, "GET", "/health?from=alb&_=1700000000", nil); rec.Code != 200 || rec.Body.String() != "UP" {
		t.Fatalf("GET /health with foreign parameters = %d %q", rec.Code, rec.Body)
	}

	if rec := do(h, "POST", "/health/fail?seconds=30", nil); rec.Code != 200 {
		t.Fatalf("POST /health/fail = %d %s", rec.Code, rec.Body)
	}
	check(503, "UNHEALTHY")
	if rec := do(h, "DELETE", "/health/fail", nil); rec.Code != 200 {
		t.Fatalf("DELETE /health/fail = %d %s", rec.Code, rec.Body)
	}
	check(200, "UP")

	if rec := do(h, "GET", "/version", nil); rec.Header().Get("Connection") != "" {
		t.Fatal("Connection: close before draining")
	}
	st.Drain("test")
	check(503, "DRAINING")
	for _, path := range []string{"/health", "/version", "/nope"} {
		if rec := do(h, "GET", path, nil); rec.Header().Get("Connection") != "close" {
			t.Fatalf("GET %s while draining lacks Connection: close", path)
		}
	}
}

func TestHealthVerbose(t *testing.T) {
	h, _, _ := newTestAPI(t, nil)
	for _, req := range []struct {
		target string
		header map[string]string
	}{
		{"/health?verbose=1", nil},
		{"/health?verbose", nil},
		{"/health", map[string]string{"Accept": "application/json"}},
	} {
		rec := do(h, "GET", req.target, req.header)
		var rep healthReport
		if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil || rec.Code != 200 {
			t.Fatalf("%s: %d %s", req.target, rec.Code, rec.Body)
		}
		if rep.Status != health.Up || rep.Instance.AvailabilityZone != "local" || rep.Version == "" {
			t.Fatalf("%s: report %+v", req.target, rep)
		}
	}
}

func TestCPULifecycle(t *testing.T) {
	h, _, _ := newTestAPI(t, nil)
	rec := do(h, "POST", "/cpu?seconds=30&load=10&workers=1", nil)
	if rec.Code != 202 {
		t.Fatalf("start: %d %s", rec.Code, rec.Body)
	}
	var job stress.Job
	if err := json.Unmarshal(rec.Body.Bytes(), &job); err != nil {
		t.Fatal(err)
	}
	if job.Seconds != 30 || job.Load != 10 || job.Workers != 1 || job.State != stress.Running ||
		job.EndsAt.Sub(job.StartedAt) != 30*time.Second {
		t.Fatalf("job %+v", job)
	}

	rec = do(h, "GET", "/cpu", nil)
	if rec.Code != 409 || !strings.Contains(rec.Body.String(), `"job"`) {
		t.Fatalf("second start: %d %s", rec.Code, rec.Body)
	}

	rec = do(h, "GET", "/cpu/status", nil)
	var rep stressReport
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil || !rep.Running || rep.Job.ID != job.ID {
		t.Fatalf("status: %s", rec.Body)
	}

	rec = do(h, "DELETE", "/cpu", nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"state": "stopped"`) {
		t.Fatalf("stop: %d %s", rec.Code, rec.Body)
	}
	rec = do(h, "GET", "/cpu/status", nil)
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil || rep.Running || rep.Job.State != stress.Stopped {
		t.Fatalf("status after stop: %s", rec.Body)
	}
}

func TestCPUDefaults(t *testing.T) {
	h, _, _ := newTestAPI(t, func(c *config.Config) { c.CPUStressTime = 7 * time.Second })
	rec := do(h, "GET", "/cpu?load=1", nil)
	var job stress.Job
	if err := json.Unmarshal(rec.Body.Bytes(), &job); err != nil || rec.Code != 202 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if job.Seconds != 7 || job.Workers != stress.DefaultWorkers() {
		t.Fatalf("defaults not applied: %+v", job)
	}
}

func TestGuard(t *testing.T) {
	cases := []struct {
		name   string
		change func(*config.Config)
		auth   string
		code   int
	}{
		{"disabled", func(c *config.Config) { c.StressEnabled = false }, "", 403},
		{"token missing", func(c *config.Config) { c.StressToken = "s3cret" }, "", 401},
		{"token wrong", func(c *config.Config) { c.StressToken = "s3cret" }, "Bearer s3cre", 401},
		{"token not bearer", func(c *config.Config) { c.StressToken = "s3cret" }, "Basic s3cret", 401},
		{"token right", func(c *config.Config) { c.StressToken = "s3cret" }, "Bearer s3cret", 202},
		{"open", nil, "", 202},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, _, _ := newTestAPI(t, c.change)
			hdr := map[string]string{"Authorization": c.auth}
			for _, target := range []string{"/cpu?seconds=1&load=1&workers=1", "/health/fail?seconds=1"} {
				rec := do(h, "POST", target, hdr)
				want := c.code
				if want == 202 && strings.HasPrefix(target, "/health") {
					want = 200
				}
				if rec.Code != want {
					t.Fatalf("POST %s: %d, want %d (%s)", target, rec.Code, want, rec.Body)
				}
				if want >= 400 {
					errorOf(t, rec)
				}
				if want == 401 && rec.Header().Get("WWW-Authenticate") == "" {
					t.Fatal("401 without WWW-Authenticate")
				}
			}
			// Reading state is never guarded.
			if rec := do(h, "GET", "/cpu/status", nil); rec.Code != 200 {
				t.Fatalf("status: %d", rec.Code)
			}
		})
	}
}

func TestIdentityAndVersion(t *testing.T) {
	h, _, _ := newTestAPI(t, nil)
	rec := do(h, "GET", "/", nil)
	var id identityReport
	if err := json.Unmarshal(rec.Body.Bytes(), &id); err != nil || id.InstanceID == "" || id.Source != "local" {
		t.Fatalf("GET / = %d %s", rec.Code, rec.Body)
	}
	rec = do(h, "GET", "/version", nil)
	var v map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || v["version"] == "" || v["go"] == "" {
		t.Fatalf("GET /version = %s", rec.Body)
	}
}

func TestMetrics(t *testing.T) {
	h, _, _ := newTestAPI(t, nil)
	do(h, "GET", "/health", nil)
	do(h, "GET", "/no/such/path/12345", nil)
	do(h, "FOO12345", "/health", nil)
	do(h, "POST", "/cpu?seconds=5&load=1&workers=2", nil)
	rec := do(h, "GET", "/metrics", nil)
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`scaleapp_http_requests_total{code="200",method="GET",route="/health"} 1`,
		`scaleapp_http_requests_total{code="404",method="GET",route="/"} 1`,
		`scaleapp_http_request_duration_seconds_bucket{route="/health",le="0.001"}`,
		`scaleapp_http_requests_total{code="405",method="other",route="/health"} 1`,
		"scaleapp_stress_active 1", "scaleapp_stress_workers 2", "scaleapp_stress_load_percent 1",
		"scaleapp_build_info{", "process_cpu_seconds_total", "go_goroutines",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(string(body), "12345") {
		t.Error("a raw path leaked into metric labels")
	}
}
