package httpapi

import (
	"errors"
	"net/http"

	"github.com/scaleapp/scaleapp/service/stress"
)

// cpuStart starts a CPU stress job: ?seconds=S (default CPU_STRESS_TIME, at most STRESS_MAX_SECONDS),
// ?load=P percent of each worker (1-100, default 100), ?workers=N (default every CPU, at most 4 per CPU).
// It answers 202 at once; the job runs in the background.
// While the instance drains it answers 503: a job would only delay the shutdown or die with it.
func (a *api) cpuStart(w http.ResponseWriter, r *http.Request) {
	p, err := a.cpuParams(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if reason := a.Health.DrainReason(); reason != "" {
		writeError(w, http.StatusServiceUnavailable, "the instance is draining ("+reason+"): no new CPU stress jobs")
		return
	}
	job, err := a.Stress.Start(p)
	switch {
	case errors.Is(err, stress.ErrRunning):
		writeJSON(w, http.StatusConflict, map[string]any{"error": err.Error() + "; DELETE /cpu stops it", "job": job})
		return
	case err != nil: // stress.ErrClosed: shutting down
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	a.Log.Info().Float64("seconds", job.Seconds).Int("load", job.Load).Int("workers", job.Workers).
		Time("ends_at", job.EndsAt).Msg("cpu stress started")
	w.Header().Set("Location", "/cpu/status")
	writeJSON(w, http.StatusAccepted, job)
}

func (a *api) cpuParams(raw string) (stress.Params, error) {
	q, err := parseQuery(raw, "seconds", "load", "workers")
	if err != nil {
		return stress.Params{}, err
	}
	var p stress.Params
	if p.Duration, err = q.seconds("seconds", a.Config.CPUStressTime, a.Config.StressMax); err != nil {
		return p, err
	}
	if p.Load, err = q.intIn("load", 100, 1, 100); err != nil {
		return p, err
	}
	p.Workers, err = q.intIn("workers", stress.DefaultWorkers(), 1, stress.MaxWorkers())
	return p, err
}

// cpuStop stops the running job at once.
func (a *api) cpuStop(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawQuery != "" {
		writeError(w, http.StatusBadRequest, "DELETE /cpu takes no parameters")
		return
	}
	job, ok := a.Stress.Stop()
	if !ok {
		writeError(w, http.StatusNotFound, "no CPU stress job is running")
		return
	}
	a.Log.Info().Int64("id", job.ID).Msg("cpu stress stopped")
	writeJSON(w, http.StatusOK, job)
}

// cpuStatus shows the running job, or the last one with running=false.
func (a *api) cpuStatus(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawQuery != "" {
		writeError(w, http.StatusBadRequest, "GET /cpu/status takes no parameters")
		return
	}
	var rep stressReport
	if job, running, ok := a.Stress.Status(); ok {
		rep = stressReport{Running: running, Job: &job}
	}
	writeJSON(w, http.StatusOK, rep)
}
