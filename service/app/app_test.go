package app

import (
	"io"
	"net"
	"net/http"
	"os"
	"strings"
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
	cfg := config.Config{DrainDelay: 50 * time.Millisecond, ShutdownTimeout: 5 * time.Second}
	drained := make(chan error, 1)
	watchdogStopped := false
	go func() {
		drained <- shutdown{cfg: cfg, state: state, notify: systemd.New(nil), stress: sm, srv: srv,
			sigs: make(chan os.Signal), stopWatchdog: func() { watchdogStopped = true }, log: zerolog.Nop()}.drain("test")
	}()

	time.Sleep(150 * time.Millisecond) // past the drain delay: now in Shutdown, waiting for the handler
	if st := state.Status(); st != health.Draining {
		t.Fatalf("health %s during drain", st)
	}
	if _, running, _ := sm.Status(); running {
		t.Fatal("stress job still running after the drain delay")
	}
	select {
	case err := <-drained:
		t.Fatalf("drain returned (%v) with a request in flight", err)
	default:
	}
	close(release)
	if got := <-answer; got != "done" {
		t.Fatalf("in-flight request got %q", got)
	}
	if err := <-drained; err != nil {
		t.Fatalf("drain: %v", err)
	}
	if !watchdogStopped {
		t.Fatal("watchdog still pinging after the drain")
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
		log: zerolog.Nop()}.drain("test")
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
