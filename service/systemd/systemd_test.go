package systemd

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// listen makes a notify socket like systemd's and points NOTIFY_SOCKET at it.
func listen(t *testing.T) <-chan string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 1024)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	return msgs
}

func TestMessages(t *testing.T) {
	msgs := listen(t)
	n := New(func(err error) { t.Error(err) })
	n.Ready("idle")
	n.Status("stress 100% x2 until 12:00:00 UTC")
	n.Stopping("draining: signal terminated")
	for _, want := range []string{"READY=1\nSTATUS=idle", "STATUS=stress 100% x2 until 12:00:00 UTC",
		"STOPPING=1\nSTATUS=draining: signal terminated"} {
		select {
		case got := <-msgs:
			if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		case <-time.After(time.Second):
			t.Fatalf("no message %q", want)
		}
	}
}

func TestWatchdogPingsOnlyWhenCheckPasses(t *testing.T) {
	msgs := listen(t)
	t.Setenv("WATCHDOG_USEC", "100000") // 100 ms: ping every 33 ms
	var healthy atomic.Bool
	healthy.Store(true)
	var failures atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := New(nil)
	interval := n.Watchdog(ctx, func(_ context.Context, deadline time.Duration) error {
		if deadline != 100*time.Millisecond/6 {
			t.Errorf("check deadline %s, want a sixth of the interval", deadline)
		}
		if !healthy.Load() {
			return errors.New("wedged")
		}
		return nil
	}, func(error) { failures.Add(1) })
	if interval != 100*time.Millisecond {
		t.Fatalf("interval %s", interval)
	}
	count := func(d time.Duration) (pings int) {
		end := time.After(d)
		for {
			select {
			case m := <-msgs:
				if m == "WATCHDOG=1" {
					pings++
				}
			case <-end:
				return pings
			}
		}
	}
	if p := count(300 * time.Millisecond); p < 3 {
		t.Fatalf("%d pings in 300 ms while healthy", p)
	}
	healthy.Store(false)
	time.Sleep(60 * time.Millisecond) // let a ping already in flight arrive
	for len(msgs) > 0 {
		<-msgs
	}
	if p := count(300 * time.Millisecond); p != 0 {
		t.Fatalf("%d pings while the self-check fails", p)
	}
	if failures.Load() == 0 {
		t.Fatal("failures not reported")
	}
}

// TestWatchdogSurvivesOneFailedCheck: one self-check that fails slowly (all of its deadline, as a
// stuck accept queue would) must not let the gap between two pings reach WatchdogSec, or systemd kills
// a healthy process. The gap is checked against 90% of the interval: pinging at half of it, as before,
// makes the gap the whole interval.
func TestWatchdogSurvivesOneFailedCheck(t *testing.T) {
	msgs := listen(t)
	const interval = 1500 * time.Millisecond
	t.Setenv("WATCHDOG_USEC", strconv.FormatInt(interval.Microseconds(), 10))
	var checks atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	New(nil).Watchdog(ctx, func(_ context.Context, deadline time.Duration) error {
		if checks.Add(1) == 2 {
			time.Sleep(deadline)
			return errors.New("timed out")
		}
		return nil
	}, func(error) {})
	var pings []time.Time
	for len(pings) < 3 {
		select {
		case m := <-msgs:
			if m == "WATCHDOG=1" {
				pings = append(pings, time.Now())
			}
		case <-time.After(5 * interval):
			t.Fatalf("only %d pings in %s", len(pings), 5*interval)
		}
	}
	if gap := pings[1].Sub(pings[0]); gap >= interval*9/10 {
		t.Fatalf("one failed self-check left %s between pings; WatchdogSec is %s", gap.Round(time.Millisecond), interval)
	} else {
		t.Logf("gap around the failed check: %s of %s", gap.Round(time.Millisecond), interval)
	}
}

func TestNoWatchdogConfigured(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "")
	if d := New(nil).Watchdog(context.Background(), nil, nil); d != 0 {
		t.Fatalf("interval %s without WATCHDOG_USEC", d)
	}
	// A WATCHDOG_USEC without a socket (a unit's environment copied to a shell) pings no one: no
	// self-checks either.
	t.Setenv("WATCHDOG_USEC", "100000")
	t.Setenv("NOTIFY_SOCKET", "")
	if d := New(nil).Watchdog(context.Background(), nil, nil); d != 0 {
		t.Fatalf("interval %s without NOTIFY_SOCKET", d)
	}
}
