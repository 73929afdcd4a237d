package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/scaleapp/scaleapp/contract"
)

// recorder remembers what a handler answered, for the log line and the metrics.
type recorder struct {
	http.ResponseWriter
	code  int
	bytes int
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// unrouted is the route label of a request refused before routing (a path not in its clean form, a body).
const unrouted = "(unrouted)"

// instrument logs one line per request and records it under its route: the pattern the mux matched,
// never the raw path, so a scan of random URLs cannot blow up the metrics' cardinality. Load balancer
// and watchdog probes of the health path log at debug: at info they would be most of the log, and
// journald's rate limit (10,000 lines / 30 s by default) would then drop the lines that matter; the
// metrics count them all.
func (a *api) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.code == 0 {
			rec.code = http.StatusOK
		}
		took := time.Since(start)
		route := r.Pattern // set by the mux on this very request
		if route == "" {
			route = unrouted
		}
		a.metrics.observe(route, methodLabel(r.Method), rec.code, took.Seconds())
		level := zerolog.InfoLevel
		if route == contract.C.HealthPath {
			level = zerolog.DebugLevel
		}
		a.Log.WithLevel(level).Str("method", clip(r.Method)).Str("path", clip(r.URL.Path)).Int("status", rec.code).
			Dur("duration_ms", took).Int("bytes", rec.bytes).Str("remote", r.RemoteAddr).Msg("request")
	})
}

// methodLabel keeps the metric's method label to the standard set: Go accepts any method token, and
// `curl -X FOO$RANDOM` must not make a new series per request.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// exactPath answers a path that is not in its clean form (//health, /./version, /cpu/../cpu/status) with
// a JSON 404 naming the clean one. Left to itself, http.ServeMux redirects those with a text/html 307
// that keeps the method (POST //cpu would start a job on the redirect).
func exactPath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if clean := cleanPath(r.URL.Path); clean != r.URL.Path {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s (paths are matched as written; the clean form is %s)",
				clip(r.URL.Path), clip(clean)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// cleanPath is the form http.ServeMux matches: rooted, no . or .. elements, no double slashes, and a
// trailing slash kept.
func cleanPath(p string) string {
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	return clean
}

// noBody refuses a request body with a 400: every parameter here goes in the query string, and a body
// would otherwise be ignored in silence (curl -d 'seconds=2' /cpu would start a default 60 s job).
func noBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > 0 || (r.ContentLength < 0 && hasData(r.Body)) {
			writeError(w, http.StatusBadRequest, "request bodies are not read here: give the parameters in the query string, e.g. POST /cpu?seconds=2&load=50")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hasData reads a chunked body's first byte.
func hasData(body io.Reader) bool {
	n, _ := body.Read(make([]byte, 1))
	return n > 0
}

// maxEcho is how much of what a client sent (a path, a method) is echoed in an answer or logged.
const maxEcho = 200

// clip shortens client input before it is echoed or logged: a 60 KB path must not become a 60 KB
// answer and log line.
func clip(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	return strings.ToValidUTF8(s[:maxEcho], "") + fmt.Sprintf("...(%d bytes)", len(s))
}
