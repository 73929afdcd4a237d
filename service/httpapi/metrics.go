package httpapi

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scaleapp/scaleapp/service/buildinfo"
	"github.com/scaleapp/scaleapp/service/stress"
)

// metrics is the service's own Prometheus registry: requests by route and code, their latency, the
// stress job, build info, and the process and Go runtime collectors.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(sm *stress.Manager, logs LogStats) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scaleapp_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "scaleapp_http_request_duration_seconds", Help: "HTTP request latency by route.",
			// /health must stay in the sub-millisecond buckets even while /cpu burns every core.
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
	}
	stressGauge := func(name, help string, f func(j stress.Job) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			if job, running, _ := sm.Status(); running {
				return f(job)
			}
			return 0
		})
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "scaleapp_build_info", Help: "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": buildinfo.Version, "commit": buildinfo.Commit, "goversion": buildinfo.GoVersion()},
	})
	build.Set(1)
	if logs != nil {
		m.reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "scaleapp_log_lines_dropped_total",
				Help: "Log lines dropped because the log output did not keep up (the service never waits for it); counted once the output moves again.",
			}, func() float64 { return float64(logs.Dropped()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "scaleapp_log_output_stalled_seconds",
				Help: "How long the log write under way has been blocked (0: the output keeps up).",
			}, func() float64 { return logs.Stalled().Seconds() }),
		)
	}
	m.reg.MustRegister(
		m.requests, m.duration, build,
		stressGauge("scaleapp_stress_active", "1 while a CPU stress job runs.", func(stress.Job) float64 { return 1 }),
		stressGauge("scaleapp_stress_workers", "Burner threads of the running stress job.", func(j stress.Job) float64 { return float64(j.Workers) }),
		stressGauge("scaleapp_stress_load_percent", "Duty cycle of each burner of the running stress job.", func(j stress.Job) float64 { return float64(j.Load) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "scaleapp_stress_not_isolated_threads_total",
			Help: "Burner threads that could not lower their priority (SCHED_IDLE, then nice 19) and ran at normal priority.",
		}, func() float64 { return float64(sm.NotIsolated()) }),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

func (m *metrics) observe(route, method string, code int, seconds float64) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(route).Observe(seconds)
}
