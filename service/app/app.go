// Package app wires scaleapp together and owns its life: listen, tell systemd READY, serve, and on
// SIGTERM (or an ASG or spot notice from the instance metadata) drain in order and exit.
package app

import (
	"context"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/scaleapp/scaleapp/contract"
	"github.com/scaleapp/scaleapp/service/config"
	"github.com/scaleapp/scaleapp/service/cpustat"
	"github.com/scaleapp/scaleapp/service/health"
	"github.com/scaleapp/scaleapp/service/httpapi"
	"github.com/scaleapp/scaleapp/service/identity"
	"github.com/scaleapp/scaleapp/service/stress"
	"github.com/scaleapp/scaleapp/service/systemd"
)

// lifecyclePoll is how often the instance metadata is asked whether the instance is leaving service.
const lifecyclePoll = 5 * time.Second

// maxHeaderBytes bounds a request's line and headers like the ALB does (64 KiB in all); Go's default is
// 1 MB. Larger requests get 431 from net/http before any handler runs.
const maxHeaderBytes = 64 << 10

// Run serves until ctx ends, a SIGTERM or SIGINT arrives, or the instance is told it is leaving; then it
// drains and returns nil on a clean stop. logOut is the log's destination, for /metrics.
func Run(ctx context.Context, cfg config.Config, log zerolog.Logger, logOut httpapi.LogStats) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Signals first: a SIGTERM that arrives while starting must still drain, not kill.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	state := health.NewState(time.Now)
	notify := systemd.New(func(err error) { log.Warn().Err(err).Msg("sd_notify failed") })
	ids := identity.NewHolder(identity.Local())
	var sm *stress.Manager
	sm = stress.NewManager(cfg.StressIsolation, func() {
		job, _, _ := sm.Status()
		notify.Status(statusLine(state, job))
	})
	sm.OnIsolationLost(func(err error) {
		log.Error().Err(err).Msg("cpu stress burners run at normal priority: /health may slow down while /cpu runs (scaleapp_stress_not_isolated_threads_total)")
	})

	cpu := cpustat.New() // the dashboard's chart: two small /proc reads a second
	go cpu.Run(ctx)

	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", cfg.Port))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler: httpapi.New(httpapi.Deps{
			Config: cfg, Health: state, Stress: sm, Identity: ids, Log: log, Started: time.Now(), CPU: cpu,
			LogOutput: logOut,
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		// Longer than the ALB's 60 s idle timeout, so the ALB always closes first and never sends a
		// request on a connection the server is closing (the classic source of sporadic 502s).
		IdleTimeout:    75 * time.Second,
		MaxHeaderBytes: maxHeaderBytes,
		// The server's own complaints (accept errors, panics) as JSON lines too, with a level.
		ErrorLog: stdlog.New(serverLog{log}, "", 0),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	notify.Ready("idle")
	log.Info().Int("port", cfg.Port).Bool("stress_enabled", cfg.StressEnabled).
		Bool("stress_token", cfg.StressToken != "").Dur("drain_delay", cfg.DrainDelay).Msg("serving")

	leaving := make(chan string, 1)
	if !cfg.IMDSDisabled {
		go watchInstance(ctx, cfg, ids, log, leaving)
	}
	selfURL := fmt.Sprintf("http://127.0.0.1:%d%s", cfg.Port, contract.C.HealthPath)
	// The watchdog pings through the drain delay and stops before Shutdown closes the listener, so
	// the self-check does not report the planned close as a failure.
	watchdogCtx, stopWatchdog := context.WithCancel(ctx)
	defer stopWatchdog()
	if every := notify.Watchdog(watchdogCtx, func(ctx context.Context, deadline time.Duration) error {
		_, err := health.Probe(ctx, selfURL, deadline)
		return err
	}, func(err error) {
		log.Error().Err(err).Msg("self-check failed: watchdog ping withheld")
	}); every > 0 {
		log.Info().Dur("watchdog", every).Msg("systemd watchdog armed; pinging at a third of it after a self-check")
	}

	var reason string
	bySignal := false
	select {
	case s := <-sigs:
		reason, bySignal = "signal "+s.String(), true
	case reason = <-leaving:
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		reason = "context ended"
	}
	return shutdown{cfg: cfg, state: state, notify: notify, stress: sm, srv: srv, sigs: sigs,
		stopWatchdog: stopWatchdog, log: log}.drain(reason, bySignal)
}

// shutdown is what the drain acts on.
type shutdown struct {
	cfg          config.Config
	state        *health.State
	notify       *systemd.Notifier
	stress       *stress.Manager
	srv          *http.Server
	sigs         <-chan os.Signal
	stopWatchdog func()
	log          zerolog.Logger
}

// drain is the shutdown sequence, in order. bySignal tells whether a signal started it.
func (d shutdown) drain(reason string, bySignal bool) error {
	cfg, state, notify, sm, srv, log := d.cfg, d.state, d.notify, d.stress, d.srv, d.log
	start := time.Now()
	// 1. Fail the health check so the load balancer stops sending new requests; from now on every
	//    response closes its connection, so clients reconnect (to another instance).
	state.Drain(reason)
	// 2. Tell systemd we are stopping on purpose (also when the ASG, not systemd, asked).
	notify.Stopping("draining: " + reason)
	log.Info().Str("reason", reason).Dur("drain_delay", cfg.DrainDelay).Msg("draining")
	// 3. Keep serving for the drain delay, matched to the target group's deregistration delay. A second
	//    signal cuts it short. When the instance metadata started the drain, the SIGTERM that follows
	//    (systemd stopping the unit as the ASG terminates the instance) is the first signal, not a second.
	if cfg.DrainDelay > 0 {
		d.waitDrainDelay(bySignal)
	}
	// 4. Free the CPU: no stress job outlives the process's decision to stop, and none starts after it.
	if job, ok := sm.Close(); ok {
		log.Info().Int64("id", job.ID).Msg("cpu stress stopped for shutdown")
	}
	// 5. Stop accepting, let in-flight requests finish within the shutdown timeout.
	d.stopWatchdog()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown: in-flight requests cut after %s: %w", cfg.ShutdownTimeout, err)
	}
	log.Info().Dur("took", time.Since(start)).Msg("stopped")
	return nil
}

// waitDrainDelay waits out the drain delay unless a second signal arrives.
func (d shutdown) waitDrainDelay(bySignal bool) {
	t := time.NewTimer(d.cfg.DrainDelay)
	defer t.Stop()
	signals := 0
	if bySignal {
		signals = 1
	}
	for {
		select {
		case <-t.C:
			return
		case s := <-d.sigs:
			if signals++; signals >= 2 {
				d.log.Warn().Str("signal", s.String()).Msg("second signal: drain delay cut short")
				return
			}
			d.log.Info().Str("signal", s.String()).Msg("signal during the drain the instance metadata started: the drain delay goes on (a second signal cuts it)")
		}
	}
}

// serverLog turns net/http's own complaints (accept errors, a handler's panic) into warn lines, so they
// carry a level and LOG_LEVEL=error hides them like any other warning.
type serverLog struct{ log zerolog.Logger }

func (s serverLog) Write(p []byte) (int, error) {
	s.log.Warn().Str("component", "http").Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}

// watchInstance reads the identity from IMDS and watches for the instance leaving service. A failed
// first read (off EC2, or a slow answer at boot) is retried at every poll, so one hiccup neither leaves
// an EC2 instance answering as "local" nor turns off its early drain.
func watchInstance(ctx context.Context, cfg config.Config, ids *identity.Holder, log zerolog.Logger, leaving chan<- string) {
	c := identity.NewClient(cfg.IMDSEndpoint, cfg.IMDSProbeTimeout)
	known := false
	resolve := func() {
		id, err := c.Identity(ctx)
		switch {
		case err == nil:
			ids.Set(id)
			known = true
			log.Info().Str("instance_id", id.InstanceID).Str("az", id.AvailabilityZone).Msg("instance identity from IMDSv2")
		case ctx.Err() == nil:
			log.Debug().Err(err).Msg("no instance metadata yet: answering as a local instance")
		}
	}
	first := true
	c.Watch(ctx, lifecyclePoll, func(reason string) { leaving <- reason }, func(err error) {
		log.Debug().Err(err).Msg("instance metadata poll failed")
	}, func() {
		if known {
			return
		}
		resolve()
		if first && !known {
			log.Info().Msg("no instance metadata: answering as a local instance, asking again every 5 s")
		}
		first = false
	})
}

// statusLine is the STATUS= text systemctl status shows.
func statusLine(state *health.State, job stress.Job) string {
	if r := state.DrainReason(); r != "" {
		return "draining: " + r
	}
	if job.State == stress.Running {
		return fmt.Sprintf("stress %d%% x%d until %s", job.Load, job.Workers, job.EndsAt.UTC().Format("15:04:05 UTC"))
	}
	return "idle"
}
