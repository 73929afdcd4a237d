// Package httpapi is scaleapp's HTTP surface: one file per endpoint, with the routing, the JSON helpers
// and the request middleware (log line and metrics) here.
package httpapi

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/scaleapp/scaleapp/contract"
	"github.com/scaleapp/scaleapp/service/config"
	"github.com/scaleapp/scaleapp/service/cpustat"
	"github.com/scaleapp/scaleapp/service/health"
	"github.com/scaleapp/scaleapp/service/identity"
	"github.com/scaleapp/scaleapp/service/stress"
)

// Deps is what the handlers need.
type Deps struct {
	Config   config.Config
	Health   *health.State
	Stress   *stress.Manager
	Identity *identity.Holder
	CPU      *cpustat.Sampler // the dashboard's chart
	Log      zerolog.Logger
	Started  time.Time
}

type api struct {
	Deps
	metrics *metrics
}

// New returns the service's handler.
func New(d Deps) http.Handler {
	a := &api{Deps: d, metrics: newMetrics(d.Stress)}
	mux := http.NewServeMux()
	route := func(pattern string, h http.Handler) { mux.Handle(pattern, a.instrument(pattern, h)) }

	route("/{$}", methods{http.MethodGet: a.identity})
	route(contract.C.HealthPath, methods{http.MethodGet: a.health})
	route(contract.C.HealthPath+"/fail", a.guard(methods{http.MethodPost: a.failStart, http.MethodDelete: a.failStop}))
	route("/cpu", a.guard(methods{http.MethodGet: a.cpuStart, http.MethodPost: a.cpuStart, http.MethodDelete: a.cpuStop}))
	route("/cpu/status", methods{http.MethodGet: a.cpuStatus})
	route("/version", methods{http.MethodGet: a.version})
	route("/metrics", methods{http.MethodGet: a.metrics.handler().ServeHTTP})
	a.routeDashboard(route)
	route("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path+" (see GET /)")
	}))
	return a.closeWhileDraining(mux)
}

// closeWhileDraining ends every kept-alive connection after its next response once the instance drains,
// so clients reconnect (through the ALB, to another instance). Unlike http.Server.SetKeepAlivesEnabled,
// it never closes a connection under a request the server is still reading: that one would be handled
// and its answer lost.
func (a *api) closeWhileDraining(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.Health.DrainReason() != "" {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// methods routes by HTTP method and answers anything else with a JSON 405 and an Allow header.
// HEAD is served wherever GET is, as load balancers and curl -I expect; a GET that changes state
// (/cpu) refuses HEAD itself.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	if h, ok := m[method]; ok {
		h(w, r)
		return
	}
	allow := make([]string, 0, len(m))
	for k := range m {
		allow = append(allow, k)
	}
	sort.Strings(allow)
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use "+strings.Join(allow, " or "))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to tell it
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
