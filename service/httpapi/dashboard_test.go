package httpapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/scaleapp/scaleapp/service/config"
)

// TestRootNegotiation: a browser gets the dashboard at /, every other client keeps the JSON identity.
func TestRootNegotiation(t *testing.T) {
	h, _, _ := newTestAPI(t, nil)
	cases := []struct {
		accept string
		html   bool
	}{
		{"", false},
		{"*/*", false},
		{"application/json", false},
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true},
	}
	for _, c := range cases {
		rec := do(h, "GET", "/", map[string]string{"Accept": c.accept})
		body := rec.Body.String()
		if rec.Code != 200 || rec.Header().Get("Vary") != "Accept" || rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("Accept %q: %d %v", c.accept, rec.Code, rec.Header())
		}
		isHTML := strings.HasPrefix(body, "<!doctype html>")
		if isHTML != c.html {
			t.Fatalf("Accept %q: HTML %v, want %v:\n%.200s", c.accept, isHTML, c.html, body)
		}
		if c.html {
			if rec.Header().Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(rec.Header().Get("Content-Security-Policy"), "script-src 'self'") {
				t.Fatalf("the page lacks its security headers: %v", rec.Header())
			}
			continue
		}
		var id map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &id); err != nil || id["instance_id"] == "" {
			t.Fatalf("Accept %q: not the JSON identity: %v %s", c.accept, err, body)
		}
	}
	if rec := do(h, "GET", "/dashboard/app.js", nil); rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/javascript") {
		t.Fatalf("GET /dashboard/app.js: %d %v", rec.Code, rec.Header())
	}
	if rec := do(h, "GET", "/dashboard/", nil); rec.Code != 404 || errorOf(t, rec) == "" {
		t.Fatalf("GET /dashboard/: %d, want a JSON 404", rec.Code)
	}
}

func TestDashboardState(t *testing.T) {
	type state struct {
		Status   string
		Controls struct {
			Enabled        bool
			DisabledReason string `json:"disabled_reason"`
			TokenRequired  bool   `json:"token_required"`
			Seconds        limit
			Workers        limit
		}
		CPU struct {
			Samples []map[string]float64
		}
	}
	get := func(t *testing.T, change func(*config.Config), target string) state {
		t.Helper()
		h, _, _ := newTestAPI(t, change)
		rec := do(h, "GET", target, nil)
		var st state
		if err := json.Unmarshal(rec.Body.Bytes(), &st); rec.Code != 200 || err != nil {
			t.Fatalf("GET %s: %d %v %s", target, rec.Code, err, rec.Body)
		}
		return st
	}

	st := get(t, nil, "/dashboard/state")
	if st.Status != "UP" || !st.Controls.Enabled || st.Controls.TokenRequired || st.Controls.Seconds.Max != 900 ||
		st.Controls.Seconds.Default != 60 || st.Controls.Workers.Max < st.Controls.Workers.Default || st.CPU.Samples == nil {
		t.Fatalf("default state: %+v", st)
	}
	st = get(t, func(c *config.Config) { c.StressEnabled = false; c.StressToken = "x" }, "/dashboard/state?since=0")
	if st.Controls.Enabled || st.Controls.DisabledReason != stressDisabled || !st.Controls.TokenRequired {
		t.Fatalf("stress disabled, token set: %+v", st.Controls)
	}

	h, _, _ := newTestAPI(t, nil)
	for target, want := range map[string]string{
		"/dashboard/state?since=soon": `since="soon" is not a whole number`,
		"/dashboard/state?since=-5":   "since=-5 is out of range",
		"/dashboard/state?sinse=5":    `unknown parameter "sinse"`,
	} {
		rec := do(h, "GET", target, nil)
		if msg := errorOf(t, rec); rec.Code != 400 || !strings.Contains(msg, want) {
			t.Errorf("GET %s: %d %q, want 400 %q", target, rec.Code, msg, want)
		}
	}
	if rec := do(h, "POST", "/dashboard/state", nil); rec.Code != 405 {
		t.Errorf("POST /dashboard/state: %d, want 405", rec.Code)
	}
}
