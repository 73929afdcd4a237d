package httpapi

import (
	"net/http"
	"time"
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

// instrument logs one line per request and records it under route (the registered pattern, never the
// raw path, so a scan of random URLs cannot blow up the metrics' cardinality).
func (a *api) instrument(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.code == 0 {
			rec.code = http.StatusOK
		}
		took := time.Since(start)
		a.metrics.observe(route, methodLabel(r.Method), rec.code, took.Seconds())
		a.Log.Info().Str("method", r.Method).Str("path", r.URL.Path).Int("status", rec.code).
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
