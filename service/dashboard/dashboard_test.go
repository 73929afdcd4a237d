package dashboard

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestSizeBudget: page, script and styles stay under 60 KB uncompressed, all of them together.
func TestSizeBudget(t *testing.T) {
	const budget = 60 * 1024
	total := 0
	err := fs.WalkDir(static, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(path)
		total += len(b)
		t.Logf("%-20s %6d bytes", path, len(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%-20s %6d bytes of %d", "total", total, budget)
	if total > budget {
		t.Fatalf("the dashboard is %d bytes, over its %d-byte budget", total, budget)
	}
}

// TestNoInlineCode: the CSP forbids inline script and style, so the page must have none (the browser
// tests would see the refusals too, this names the line).
func TestNoInlineCode(t *testing.T) {
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|<script(?:(?:\s+(?:defer|async|type="[^"]*"))*\s*)>|<style|\sstyle=|\son[a-z]+=|javascript:`)
	for i, line := range strings.Split(string(page), "\n") {
		if m := inline.FindString(line); m != "" {
			t.Errorf("index.html:%d: inline code %q is refused by the CSP: %s", i+1, m, line)
		}
	}
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q is not strict", csp)
	}
}

func TestServePage(t *testing.T) {
	rec := httptest.NewRecorder()
	ServePage(rec, `i-0"><script>alert(1)</script>`)
	body := rec.Body.String()
	if strings.Contains(body, "<script>alert") || !strings.Contains(body, `data-served-by="i-0&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`) {
		t.Fatalf("instance id not escaped into the page:\n%s", body)
	}
	for k, want := range map[string]string{"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
		"Content-Type": "text/html; charset=utf-8", "X-Frame-Options": "DENY"} {
		if got := rec.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestWantsHTML(t *testing.T) {
	cases := map[string]bool{
		"":                 false, // curl without -H, many libraries
		"*/*":              false, // curl, fetch()
		"application/json": false,
		"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8": true, // Chromium, Firefox
		"text/html":                         true,
		"TEXT/HTML; charset=x":              true,
		"text/html;q=0":                     false,
		"text/html;q=0.000":                 false,
		"application/json, text/html;q=0.5": true,
		"text/plain":                        false,
	}
	for accept, want := range cases {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Accept", accept)
		if got := WantsHTML(r); got != want {
			t.Errorf("Accept %q: WantsHTML = %v, want %v", accept, got, want)
		}
	}
}

func TestAssets(t *testing.T) {
	want := map[string]string{Prefix + "app.js": "text/javascript; charset=utf-8", Prefix + "style.css": "text/css; charset=utf-8"}
	hs := Assets()
	if len(hs) != len(want) {
		t.Fatalf("%d assets, want %d", len(hs), len(want))
	}
	for path, ct := range want {
		rec := httptest.NewRecorder()
		hs[path].ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != 200 || rec.Header().Get("Content-Type") != ct || rec.Header().Get("X-Content-Type-Options") != "nosniff" ||
			rec.Header().Get("Content-Security-Policy") != csp || rec.Body.Len() == 0 {
			t.Fatalf("%s: %d %v", path, rec.Code, rec.Header())
		}
		// A reload revalidates and gets a 304.
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("If-None-Match", rec.Header().Get("ETag"))
		again := httptest.NewRecorder()
		hs[path].ServeHTTP(again, req)
		if again.Code != http.StatusNotModified {
			t.Fatalf("%s with its ETag: %d, want 304", path, again.Code)
		}
	}
}
