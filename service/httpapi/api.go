// Package httpapi is scaleapp's HTTP surface: one file per endpoint, with the routing and the JSON
// helpers here and the request middleware (log line, metrics, exact paths, no bodies) in middleware.go.
// Everything a route needs beyond its handler (405 with Allow, OPTIONS, HEAD, the log line, the
// metrics) comes from route registration and the middleware, so a new route gets it for free.
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
	// LogOutput is what /metrics shows of the log's destination (nil: nothing to show).
	LogOutput LogStats
}

// LogStats describes a log output that drops lines rather than block.
type LogStats interface {
	Dropped() int64         // lines lost so far
	Stalled() time.Duration // how long the write under way has been blocked, 0 when none is
}

type api struct {
	Deps
	metrics *metrics
}

// New returns the service's handler.
func New(d Deps) http.Handler {
	a := &api{Deps: d, metrics: newMetrics(d.Stress, d.LogOutput)}
	mux := http.NewServeMux()
	route := mux.Handle // the middleware wrapped around the mux below serves every route alike

	route("/{$}", methods{http.MethodGet: a.identity})
	route(contract.C.HealthPath, methods{http.MethodGet: a.health})
	route(contract.C.HealthPath+"/fail", methods{http.MethodPost: a.guard(a.failStart), http.MethodDelete: a.guard(a.failStop)})
	// GET /cpu starts a job (as the original tutorial's did), so HEAD, which a link checker or monitor
	// may send, is refused there instead of burning the instance.
	route("/cpu", methods{http.MethodGet: a.guard(a.cpuStart), http.MethodPost: a.guard(a.cpuStart),
		http.MethodDelete: a.guard(a.cpuStop), http.MethodHead: nil})
	route("/cpu/status", methods{http.MethodGet: a.cpuStatus})
	route("/version", methods{http.MethodGet: a.version})
	route("/metrics", methods{http.MethodGet: a.metrics.handler().ServeHTTP})
	a.routeDashboard(route)
	route("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+clip(r.URL.Path)+" (see GET /)")
	}))
	return a.instrument(a.closeWhileDraining(exactPath(noBody(mux))))
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

// methods routes by HTTP method. HEAD is served wherever GET is, as load balancers and curl -I expect,
// unless the map sets HEAD to nil (a GET that changes state). OPTIONS answers 204 with the Allow header;
// any other method gets a JSON 405 with it.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	method := r.Method
	if _, refused := m[http.MethodHead]; method == http.MethodHead && !refused {
		method = http.MethodGet
	}
	if h := m[method]; h != nil {
		h(w, r)
		return
	}
	allow := m.allowed()
	w.Header().Set("Allow", strings.Join(allow, ", "))
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	msg := "method " + r.Method + " not allowed; use " + strings.Join(allow, " or ")
	if r.Method == http.MethodHead {
		msg = "HEAD is refused here: GET " + clip(r.URL.Path) + " changes state; use " + strings.Join(allow, " or ")
	}
	writeError(w, http.StatusMethodNotAllowed, msg)
}

// allowed lists the methods served, HEAD and OPTIONS included, sorted.
func (m methods) allowed() []string {
	allow := []string{http.MethodOptions}
	for k, h := range m {
		if h != nil {
			allow = append(allow, k)
		}
	}
	if _, refused := m[http.MethodHead]; m[http.MethodGet] != nil && !refused {
		allow = append(allow, http.MethodHead)
	}
	sort.Strings(allow)
	return allow
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
