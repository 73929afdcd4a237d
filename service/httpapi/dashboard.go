package httpapi

import (
	"math"
	"net/http"

	"github.com/scaleapp/scaleapp/service/cpustat"
	"github.com/scaleapp/scaleapp/service/dashboard"
	"github.com/scaleapp/scaleapp/service/stress"
)

// stressDisabled is why the guarded endpoints answer 403, and why the dashboard hides its controls.
const stressDisabled = "stress endpoints are disabled on this instance (STRESS_ENABLED=false)"

// dashboardState is everything the dashboard shows of one instance, in one answer per second: the
// verbose health report, the limits its forms check (the server checks them again), and the CPU
// samples taken after ?since (Unix milliseconds).
type dashboardState struct {
	healthReport
	Controls controls       `json:"controls"`
	CPU      cpustat.Report `json:"cpu"`
}

type controls struct {
	Enabled        bool   `json:"enabled"`
	DisabledReason string `json:"disabled_reason,omitempty"`
	TokenRequired  bool   `json:"token_required"`
	Seconds        limit  `json:"seconds"`
	Load           limit  `json:"load"`
	Workers        limit  `json:"workers"`
	FailureSeconds limit  `json:"failure_seconds"`
}

type limit struct {
	Default float64 `json:"default"`
	Min     float64 `json:"min"`
	Max     float64 `json:"max"`
}

// routeDashboard adds the page's script and styles and its data; the page itself is GET / (root.go).
func (a *api) routeDashboard(route func(string, http.Handler)) {
	for path, h := range dashboard.Assets() {
		route(path, methods{http.MethodGet: h.ServeHTTP})
	}
	route(dashboard.Prefix+"state", methods{http.MethodGet: a.dashboardState})
}

func (a *api) dashboardState(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.RawQuery, "since")
	var since int
	if err == nil {
		since, err = q.intIn("since", 0, 0, math.MaxInt)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	c := controls{
		Enabled: a.Config.StressEnabled, TokenRequired: a.Config.StressToken != "",
		Seconds:        limit{a.Config.CPUStressTime.Seconds(), 0.001, a.Config.StressMax.Seconds()},
		Load:           limit{100, 1, 100},
		Workers:        limit{float64(stress.DefaultWorkers()), 1, float64(stress.MaxWorkers())},
		FailureSeconds: limit{defaultFailure.Seconds(), 0.001, maxFailure.Seconds()},
	}
	if !c.Enabled {
		c.DisabledReason = stressDisabled
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, dashboardState{a.healthReport(a.Health.Status()), c, a.CPU.Since(int64(since))})
}
