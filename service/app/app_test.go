package app

import (
	"errors"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scaleapp/scaleapp/service/config"
	"github.com/scaleapp/scaleapp/service/health"
	"github.com/scaleapp/scaleapp/service/stress"
	"github.com/scaleapp/scaleapp/service/systemd"
)

// TestDrainWaitsForInFlight runs the shutdown sequence while a handler is busy: the request must be
// answered, a stress job must be stopped, and drain must return only after both.
func TestDrainWaitsForInFlight(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "done")
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()

	answer := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String())
		if err != nil {
			answer <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answer <- string(b)
	}()
	<-entered

	state := health.NewState(time.Now)
	sm := stress.NewManager(true, nil)
	if _, err := sm.Start(stress.Params{Duration: time.Minute, Load: 1, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	cfg := config.Config{DrainDelay: 50 * time.Millisecond, ShutdownTimeout: time.Minute}
	drained := make(chan error, 1)
	watchdogStopped := make(chan struct{})
	go func() {
		drained <- shutdown{cfg: cfg, state: state, notify: systemd.New(nil), stress: sm, srv: srv,
			sigs: make(chan os.Signal), stopWatchdog: func() { close(watchdogStopped) }, log: zerolog.Nop()}.drain("test", true)
	}()

	// The watchdog stops right before Shutdown; Shutdown closes the listener first, then waits.
	select {
	case <-watchdogStopped:
	case <-time.After(30 * time.Second):
		t.Fatal("the drain never reached its shutdown step")
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts during Shutdown")
		}
	}
	if st := state.Status(); st != health.Draining {
		t.Fatalf("health %s during drain", st)
	}
	if _, running, _ := sm.Status(); running {
		t.Fatal("stress job still running at shutdown")
	}
	if _, err := sm.Start(stress.Params{Duration: time.Minute, Load: 1, Workers: 1}); !errors.Is(err, stress.ErrClosed) {
		sm.Stop()
		t.Fatalf("a job could start after the drain's stop step: %v", err)
	}
	select {
	case err := <-drained:
		t.Fatalf("drain returned (%v) with a request in flight", err)
	case <-time.After(300 * time.Millisecond): // a Shutdown that does not wait returns in microseconds
	}
	close(release)
	if got := <-answer; got != "done" {
		t.Fatalf("in-flight request got %q", got)
	}
	if err := <-drained; err != nil {
		t.Fatalf("drain: %v", err)
	}
}

// TestSignalAfterMetadataDrain: when the instance metadata started the drain (ASG Terminated, spot
// notice), the SIGTERM that systemd sends next is the first signal: the drain delay goes on. A second
// signal cuts it, as it does when a signal started the drain.
func TestSignalAfterMetadataDrain(t *testing.T) {
	cases := []struct {
		name     string
		bySignal bool
		signals  int
		cut      bool
	}{
		{"metadata drain, one signal", false, 1, false},
		{"metadata drain, two signals", false, 2, true},
		{"signal drain, a second signal", true, 1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			const delay = 2 * time.Second
			sigs := make(chan os.Signal, 2)
			for range c.signals {
				sigs <- syscall.SIGTERM
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{}
			go func() { _ = srv.Serve(ln) }()
			start := time.Now()
			err = shutdown{cfg: config.Config{DrainDelay: delay, ShutdownTimeout: time.Minute}, state: health.NewState(time.Now),
				notify: systemd.New(nil), stress: stress.NewManager(false, nil), srv: srv, sigs: sigs,
				stopWatchdog: func() {}, log: zerolog.Nop()}.drain("autoscaling target lifecycle state is Terminated", c.bySignal)
			took := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			if cut := took < delay; cut != c.cut {
				t.Fatalf("drain took %s with DRAIN_DELAY=%s: cut short %v, want %v", took.Round(time.Millisecond), delay, cut, c.cut)
			}
		})
	}
}

// TestServerLogHasALevel: net/http's own error lines are warnings: they carry a level, and
// LOG_LEVEL=error hides them.
func TestServerLogHasALevel(t *testing.T) {
	for _, c := range []struct {
		level zerolog.Level
		want  string
	}{
		{zerolog.InfoLevel, `{"level":"warn","component":"http","message":"http: Accept error: too many open files; retrying in 5ms"}` + "\n"},
		{zerolog.ErrorLevel, ""},
	} {
		var out strings.Builder
		stdlog.New(serverLog{zerolog.New(&out).Level(c.level)}, "", 0).Print("http: Accept error: too many open files; retrying in 5ms")
		if out.String() != c.want {
			t.Errorf("at %s: %q, want %q", c.level, out.String(), c.want)
		}
	}
}

func TestDrainTimeoutIsAnError(t *testing.T) {
	entered := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		close(entered)
		time.Sleep(2 * time.Second)
	})}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = srv.Serve(ln) }()
	go func() { _, _ = http.Get("http://" + ln.Addr().String()) }()
	<-entered
	cfg := config.Config{ShutdownTimeout: 100 * time.Millisecond}
	err := shutdown{cfg: cfg, state: health.NewState(time.Now), notify: systemd.New(nil),
		stress: stress.NewManager(false, nil), srv: srv, sigs: make(chan os.Signal), stopWatchdog: func() {},
		log: zerolog.Nop()}.drain("test", true)
	if err == nil || !strings.Contains(err.Error(), "in-flight requests cut after 100ms") {
		t.Fatalf("err = %v", err)
	}
}

func TestStatusLine(t *testing.T) {
	st := health.NewState(time.Now)
	ends := time.Date(2026, 11, 29, 14, 5, 9, 0, time.UTC)
	cases := []struct {
		job  stress.Job
		want string
	}{
		{stress.Job{}, "idle"},
		{stress.Job{State: stress.Finished}, "idle"},
		{stress.Job{State: stress.Running, Load: 100, Workers: 2, EndsAt: ends}, "stress 100% x2 until 14:05:09 UTC"},
	}
	for _, c := range cases {
		if got := statusLine(st, c.job); got != c.want {
			t.Errorf("statusLine(%+v) = %q, want %q", c.job, got, c.want)
		}
	}
	st.Drain("signal terminated")
	if got := statusLine(st, cases[2].job); got != "draining: signal terminated" {
		t.Errorf("while draining: %q", got)
	}
}
