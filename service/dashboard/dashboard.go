// Package dashboard is the page a browser gets at GET /: one HTML file, a script and a style sheet,
// embedded in the binary (no CDN, no build step), with relative URLs so it works behind the ALB and on
// any port. The data it shows comes from the JSON endpoints of package httpapi.
//
// Every answer carries a strict Content-Security-Policy: scripts and styles only from this origin and
// never inline, requests only to this origin, no framing. The page changes state only with POST and
// DELETE, and sends the stress token (kept in the tab's sessionStorage) as an Authorization header.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Prefix is where the page's script and styles are served.
const Prefix = "/dashboard/"

//go:embed static
var static embed.FS

var (
	page   = mustRead("index.html")
	assets = map[string]asset{}
)

type asset struct {
	body        []byte
	contentType string // set here: the system's mime.types must not decide what a browser will run
	etag        string
}

func init() {
	for name, ct := range map[string]string{"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"} {
		b := mustRead(name)
		sum := sha256.Sum256(b)
		assets[Prefix+name] = asset{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
}

func mustRead(name string) []byte {
	b, err := static.ReadFile("static/" + name)
	if err != nil {
		panic(err) // embedded at build time: a missing file is a build mistake
	}
	return b
}

// csp allows nothing but this origin's script, styles and fetches; form-action none because the forms
// are sent by the script.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// secure sets the headers every dashboard answer carries.
func secure(h http.Header) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// WantsHTML tells a browser navigating to the page (its Accept lists text/html) from curl (*/*), the
// page's own fetches and every other client, which keep the JSON.
func WantsHTML(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || mt != "text/html" {
			continue
		}
		if q, ok := params["q"]; ok {
			if w, err := strconv.ParseFloat(q, 64); err != nil || w <= 0 {
				continue // text/html;q=0 means "not HTML"
			}
		}
		return true
	}
	return false
}

// ServePage writes the page; servedBy is the instance id it shows as the one that served it.
func ServePage(w http.ResponseWriter, servedBy string) {
	secure(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(strings.Replace(string(page), "{{served_by}}", html.EscapeString(servedBy), 1)))
}

// Assets are the handlers of the script and the styles, by path (under Prefix).
func Assets() map[string]http.Handler {
	hs := make(map[string]http.Handler, len(assets))
	for path, a := range assets {
		hs[path] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			secure(w.Header())
			// Revalidated on every load (a new binary brings a new page); the ETag makes that a 304.
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("ETag", a.etag)
			w.Header().Set("Content-Type", a.contentType)
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
		})
	}
	return hs
}
