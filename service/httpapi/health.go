package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/scaleapp/scaleapp/service/buildinfo"
	"github.com/scaleapp/scaleapp/service/health"
	"github.com/scaleapp/scaleapp/service/identity"
	"github.com/scaleapp/scaleapp/service/stress"
)

// healthReport is the verbose /health answer.
type healthReport struct {
	Status        health.Status     `json:"status"`
	DrainReason   string            `json:"drain_reason,omitempty"`
	FailedUntil   *time.Time        `json:"failed_until,omitempty"`
	Instance      identity.Identity `json:"instance"`
	Version       string            `json:"version"`
	Commit        string            `json:"commit"`
	UptimeSeconds float64           `json:"uptime_seconds"`
	Stress        stressReport      `json:"stress"`
}

type stressReport struct {
	Running bool        `json:"running"`
	Job     *stress.Job `json:"job,omitempty"`
}

// health answers the load balancer: 200 UP, or 503 DRAINING / UNHEALTHY; ?verbose=1 or
// Accept: application/json gives the full report. Other parameters are ignored, unlike elsewhere: a
// health check path configured with a query (or a monitor's cache-buster) must not fail the instance.
func (a *api) health(w http.ResponseWriter, r *http.Request) {
	st := a.Health.Status()
	code := http.StatusOK
	if st != health.Up {
		code = http.StatusServiceUnavailable
	}
	verbose := strings.Contains(r.Header.Get("Accept"), "application/json")
	if r.URL.RawQuery != "" {
		v, err := query{r.URL.Query()}.flag("verbose")
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		verbose = verbose || v
	}
	w.Header().Set("Cache-Control", "no-store")
	if verbose {
		writeJSON(w, code, a.healthReport(st))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(st))
}

func (a *api) healthReport(st health.Status) healthReport {
	rep := healthReport{
		Status: st, DrainReason: a.Health.DrainReason(), Instance: a.Identity.Get(),
		Version: buildinfo.Version, Commit: buildinfo.Commit,
		UptimeSeconds: time.Since(a.Started).Round(time.Millisecond).Seconds(),
	}
	if t := a.Health.FailedUntil(); !t.IsZero() {
		rep.FailedUntil = &t
	}
	if job, running, ok := a.Stress.Status(); ok {
		rep.Stress = stressReport{Running: running, Job: &job}
	}
	return rep
}

// An injected failure lasts 5 minutes unless told otherwise: far longer than an ALB needs to mark the
// instance unhealthy (2 checks 5 s apart here), so the ASG's replacement is what ends it. An hour at most.
const (
	defaultFailure = 5 * time.Minute
	maxFailure     = time.Hour
)

// failStart makes /health answer 503 UNHEALTHY for ?seconds=S (default 300) so the ALB marks the
// instance unhealthy and the ASG replaces it.
func (a *api) failStart(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.RawQuery, "seconds")
	var d time.Duration
	if err == nil {
		d, err = q.seconds("seconds", defaultFailure, maxFailure)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	until := a.Health.InjectFailure(d)
	a.Log.Warn().Dur("for", d).Time("until", until).Msg("failure injected: /health answers 503 UNHEALTHY")
	writeJSON(w, http.StatusOK, map[string]any{"status": health.Unhealthy, "failed_until": until})
}

// failStop ends an injected failure early.
func (a *api) failStop(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawQuery != "" {
		writeError(w, http.StatusBadRequest, "DELETE /health/fail takes no parameters")
		return
	}
	if !a.Health.ClearFailure() {
		writeError(w, http.StatusNotFound, "no failure is injected")
		return
	}
	a.Log.Info().Msg("injected failure cleared")
	writeJSON(w, http.StatusOK, map[string]any{"status": a.Health.Status()})
}
