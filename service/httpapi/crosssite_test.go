package httpapi

import (
	"strings"
	"testing"
)

// TestCrossSiteRefused: a browser sending another site's request to the guarded endpoints gets a 403
// and nothing starts; the page's own requests and curl's pass.
func TestCrossSiteRefused(t *testing.T) {
	cases := []struct {
		name, method, target string
		header               map[string]string
		want                 int
	}{
		{"third-party page, POST", "POST", "/cpu?seconds=1&load=1", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"third-party img, GET", "GET", "/cpu?seconds=1&load=1", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"sibling site, DELETE", "DELETE", "/health/fail", map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{"old browser, Origin only", "POST", "/health/fail", map[string]string{"Origin": "http://evil.example"}, 403},
		{"the dashboard itself", "POST", "/cpu?seconds=1&load=1", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://example.com"}, 202},
		{"address bar", "GET", "/cpu?seconds=1&load=1", map[string]string{"Sec-Fetch-Site": "none"}, 202},
		{"curl", "POST", "/cpu?seconds=1&load=1", nil, 202},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, _, sm := newTestAPI(t, nil)
			rec := do(h, c.method, c.target, c.header)
			if rec.Code != c.want {
				t.Fatalf("%s %s: %d %s, want %d", c.method, c.target, rec.Code, rec.Body, c.want)
			}
			if c.want == 403 {
				if msg := errorOf(t, rec); !strings.Contains(msg, "cross-origin") {
					t.Fatalf("403 says %q", msg)
				}
				if _, _, ran := sm.Status(); ran {
					t.Fatal("a job started anyway")
				}
			}
		})
	}
}
