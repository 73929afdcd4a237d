package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"

	"github.com/scaleapp/scaleapp/contract"
	"github.com/scaleapp/scaleapp/service/config"
	"github.com/scaleapp/scaleapp/service/cpustat"
	"github.com/scaleapp/scaleapp/service/health"
	"github.com/scaleapp/scaleapp/service/identity"
	"github.com/scaleapp/scaleapp/service/stress"
)

// newTestAPI returns a handler over fresh state; change tweaks the configuration first.
func newTestAPI(t *testing.T, change func(*config.Config)) (http.Handler, *health.State, *stress.Manager) {
	h, st, sm, _ := newLoggedAPI(t, zerolog.InfoLevel, change)
	return h, st, sm
}

// syncBuffer is a log destination safe for the handlers and the test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fakeLogStats is a log output that lost 7 lines and has been stuck for 2.5 s.
type fakeLogStats struct{}

func (fakeLogStats) Dropped() int64         { return 7 }
func (fakeLogStats) Stalled() time.Duration { return 2500 * time.Millisecond }

// newLoggedAPI is newTestAPI with its log kept, at level.
func newLoggedAPI(t *testing.T, level zerolog.Level, change func(*config.Config)) (http.Handler, *health.State, *stress.Manager, *syncBuffer) {
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
	logs := &syncBuffer{}
	h := New(Deps{Config: cfg, Health: st, Stress: sm, Identity: identity.NewHolder(identity.Local()),
		Log: zerolog.New(logs).Level(level), Started: time.Now(), LogOutput: fakeLogStats{}, CPU: cpustat.New()})
	return h, st, sm, logs
}

func do(h http.Handler, method, target string, header map[string]string) *httptest.ResponseRecorder {
	return doBody(h, method, target, header, nil)
}

func doBody(h http.Handler, method, target string, header map[string]string, body io.Reader) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, body)
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
		{"HEAD", "/cpu", 405, "GET /cpu changes state"},
		{"POST", "/health", 405, "not allowed"},
		{"GET", "/health?verbose=maybe", 400, "true/false"},
		{"POST", "/health/fail?seconds=x", 400, "not a number"},
		{"POST", "/health/fail?seconds=3601", 400, "out of range"},
		{"GET", "/health/fail", 405, "not allowed"},
		{"DELETE", "/health/fail", 404, "no failure"},
		{"GET", "/nope", 404, "no such endpoint"},
		{"POST", "/version", 405, "not allowed"},
		{"GET", "//health", 404, "the clean form is /health"},
		{"GET", "/./version", 404, "the clean form is /version"},
		{"GET", "/cpu/../cpu/status", 404, "the clean form is /cpu/status"},
		{"POST", "//cpu", 404, "the clean form is /cpu"},
		{"GET", "/health/", 404, "no such endpoint"},
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

// TestAllow: 405 and OPTIONS list every method served, HEAD where GET is served, OPTIONS everywhere.
func TestAllow(t *testing.T) {
	h, _, sm := newTestAPI(t, nil)
	for _, c := range []struct{ path, allow string }{
		{"/health/fail", "DELETE, OPTIONS, POST"},
		{"/health", "GET, HEAD, OPTIONS"},
		{"/cpu", "DELETE, GET, OPTIONS, POST"},
		{"/", "GET, HEAD, OPTIONS"},
		{"/metrics", "GET, HEAD, OPTIONS"},
	} {
		if rec := do(h, "PATCH", c.path, nil); rec.Code != 405 || rec.Header().Get("Allow") != c.allow {
			t.Errorf("PATCH %s: %d, Allow %q, want 405 and %q", c.path, rec.Code, rec.Header().Get("Allow"), c.allow)
		}
		if rec := do(h, "OPTIONS", c.path, nil); rec.Code != 204 || rec.Header().Get("Allow") != c.allow || rec.Body.Len() != 0 {
			t.Errorf("OPTIONS %s: %d, Allow %q, body %q, want 204 and %q", c.path, rec.Code, rec.Header().Get("Allow"), rec.Body, c.allow)
		}
	}
	if _, _, ok := sm.Status(); ok {
		t.Fatal("OPTIONS or PATCH /cpu started a job")
	}
}

// TestNonCanonicalPaths: //cpu and friends get the JSON 404 of any unknown path, are logged and
// counted, and never reach a handler (net/http's ServeMux would redirect them with a 307 that keeps
// POST).
func TestNonCanonicalPaths(t *testing.T) {
	h, _, sm, logs := newLoggedAPI(t, zerolog.InfoLevel, nil)
	for _, target := range []string{"//cpu", "/./cpu", "/x/../cpu"} {
		rec := do(h, "POST", target+"?seconds=1&load=1&workers=1", nil)
		if rec.Code != 404 || rec.Header().Get("Location") != "" {
			t.Fatalf("POST %s: %d (Location %q)", target, rec.Code, rec.Header().Get("Location"))
		}
		errorOf(t, rec)
	}
	if _, _, ok := sm.Status(); ok {
		t.Fatal("a non-canonical POST started a job")
	}
	if n := strings.Count(logs.String(), `"status":404`); n != 3 {
		t.Fatalf("%d of 3 requests logged:\n%s", n, logs)
	}
	if v := metricValue(t, h, "scaleapp_http_requests_total", map[string]string{"route": unrouted, "method": "POST", "code": "404"}); v != 3 {
		t.Fatalf("requests_total{route=%q} = %v, want 3", unrouted, v)
	}
}

// TestLongPathIsClipped: what a client sent (a path, a parameter) is echoed and logged in at most a few
// hundred bytes.
func TestLongPathIsClipped(t *testing.T) {
	h, _, _, logs := newLoggedAPI(t, zerolog.InfoLevel, nil)
	long := "/" + strings.Repeat("a", 60000)
	for _, target := range []string{long, "/" + long} {
		rec := do(h, "GET", target, nil)
		if rec.Code != 404 || rec.Body.Len() > 1000 {
			t.Fatalf("GET of a 60 KB path: %d, %d bytes of answer", rec.Code, rec.Body.Len())
		}
		if msg := errorOf(t, rec); !strings.Contains(msg, "...(60001 bytes)") && !strings.Contains(msg, "...(60002 bytes)") {
			t.Fatalf("error %q does not say how long the path was", msg)
		}
	}
	for _, target := range []string{"/cpu?" + long[1:] + "=1", "/cpu?seconds=" + long[1:]} {
		if rec := do(h, "GET", target, nil); rec.Code != 400 || rec.Body.Len() > 1000 {
			t.Fatalf("GET of a 60 KB query: %d, %d bytes of answer", rec.Code, rec.Body.Len())
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if len(line) > 1000 {
			t.Fatalf("a %d-byte log line", len(line))
		}
	}
}

// TestBodyIsRefused: parameters in a body would be ignored in silence; they are refused with a 400 that
// says where they belong, with Content-Length or chunked.
func TestBodyIsRefused(t *testing.T) {
	h, _, sm := newTestAPI(t, nil)
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for name, body := range map[string]io.Reader{
		"content-length": strings.NewReader("seconds=2&load=1&workers=1"),
		"chunked":        io.MultiReader(strings.NewReader("seconds=2")), // no known length: sent chunked
	} {
		rec := doBody(h, "POST", "/cpu", form, body)
		if rec.Code != 400 || !strings.Contains(errorOf(t, rec), "query string") {
			t.Fatalf("%s: POST /cpu with a body: %d %s", name, rec.Code, rec.Body)
		}
	}
	if _, _, ok := sm.Status(); ok {
		t.Fatal("a POST with a body started a job")
	}
	if rec := doBody(h, "POST", "/cpu?seconds=1&load=1&workers=1", nil, strings.NewReader("")); rec.Code != 202 {
		t.Fatalf("POST /cpu with an empty body: %d %s", rec.Code, rec.Body)
	}
}

// TestCPURefusedWhileDraining: a job asked for while the instance drains would only delay the
// shutdown or die with it.
func TestCPURefusedWhileDraining(t *testing.T) {
	h, st, sm := newTestAPI(t, nil)
	st.Drain("signal terminated")
	rec := do(h, "POST", "/cpu?seconds=1&load=1&workers=1", nil)
	if rec.Code != 503 || !strings.Contains(errorOf(t, rec), "draining (signal terminated)") {
		t.Fatalf("POST /cpu while draining: %d %s", rec.Code, rec.Body)
	}
	if _, _, ok := sm.Status(); ok {
		t.Fatal("a job started while draining")
	}
	sm.Close()
	if rec := do(h, "POST", "/cpu?seconds=1&load=1&workers=1", nil); rec.Code != 503 {
		t.Fatalf("POST /cpu after shutdown: %d %s", rec.Code, rec.Body)
	}
}

// TestProbesLogAtDebug: /health (the ALB's checks, the watchdog's self-probe) logs at debug, everything
// else at info.
func TestProbesLogAtDebug(t *testing.T) {
	for _, level := range []zerolog.Level{zerolog.InfoLevel, zerolog.DebugLevel} {
		h, _, _, logs := newLoggedAPI(t, level, nil)
		do(h, "GET", "/health", nil)
		do(h, "GET", "/version", nil)
		healthLogged := strings.Contains(logs.String(), `"path":"/health"`)
		if healthLogged != (level == zerolog.DebugLevel) || !strings.Contains(logs.String(), `"level":"info","method":"GET","path":"/version"`) {
			t.Fatalf("LOG_LEVEL=%s logged:\n%s", level, logs)
		}
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
	check(200, contract.C.HealthOKBody)
	if rec := do(h, "HEAD", "/health", nil); rec.Code != 200 {
		t.Fatalf("HEAD /health = %d", rec.Code)
	}
	if rec := do(h, "GET", "/health?from=alb&_=1700000000", nil); rec.Code != 200 || rec.Body.String() != contract.C.HealthOKBody {
		t.Fatalf("GET /health with foreign parameters = %d %q", rec.Code, rec.Body)
	}

	if rec := do(h, "POST", "/health/fail?seconds=30", nil); rec.Code != 200 {
		t.Fatalf("POST /health/fail = %d %s", rec.Code, rec.Body)
	}
	check(503, "UNHEALTHY")
	if rec := do(h, "DELETE", "/health/fail", nil); rec.Code != 200 {
		t.Fatalf("DELETE /health/fail = %d %s", rec.Code, rec.Body)
	}
	check(200, contract.C.HealthOKBody)

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
		{"token bearer glued", func(c *config.Config) { c.StressToken = "s3cret" }, "Bearers3cret", 401},
		{"token right", func(c *config.Config) { c.StressToken = "s3cret" }, "Bearer s3cret", 202},
		{"scheme in lower case", func(c *config.Config) { c.StressToken = "s3cret" }, "bearer s3cret", 202},
		{"scheme in upper case", func(c *config.Config) { c.StressToken = "s3cret" }, "BEARER  s3cret", 202},
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

// metricValue reads one sample from GET /metrics, parsed (a substring match could find "1" inside "10").
func metricValue(t *testing.T, h http.Handler, name string, labels map[string]string) float64 {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(do(h, "GET", "/metrics", nil).Body)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	f, ok := families[name]
	if !ok {
		t.Fatalf("no metric %s", name)
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	t.Fatalf("no sample of %s with %v", name, labels)
	return 0
}

func TestMetrics(t *testing.T) {
	h, _, _ := newTestAPI(t, nil)
	for range 10 { // 10 and 1 below: a substring match would mix them up
		do(h, "GET", "/health", nil)
	}
	do(h, "GET", "/no/such/path/12345", nil)
	do(h, "FOO12345", "/health", nil)
	do(h, "POST", "/cpu?seconds=5&load=1&workers=2", nil)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"scaleapp_http_requests_total", map[string]string{"code": "200", "method": "GET", "route": "/health"}, 10},
		{"scaleapp_http_requests_total", map[string]string{"code": "404", "method": "GET", "route": "/"}, 1},
		{"scaleapp_http_requests_total", map[string]string{"code": "405", "method": "other", "route": "/health"}, 1},
		{"scaleapp_http_requests_total", map[string]string{"code": "202", "method": "POST", "route": "/cpu"}, 1},
		{"scaleapp_http_request_duration_seconds", map[string]string{"route": "/health"}, 11},
		{"scaleapp_stress_active", nil, 1},
		{"scaleapp_stress_workers", nil, 2},
		{"scaleapp_stress_load_percent", nil, 1},
		{"scaleapp_stress_not_isolated_threads_total", nil, 0},
		{"scaleapp_log_lines_dropped_total", nil, 7},
		{"scaleapp_log_output_stalled_seconds", nil, 2.5},
		{"scaleapp_build_info", nil, 1},
	} {
		if got := metricValue(t, h, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	body := do(h, "GET", "/metrics", nil).Body.String()
	for _, want := range []string{"process_cpu_seconds_total", "go_goroutines"} {
		if !strings.Contains(body, "\n"+want+" ") {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "12345") {
		t.Error("a raw path or method leaked into metric labels")
	}
}
