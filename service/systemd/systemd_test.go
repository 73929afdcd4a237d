package systemd

import (
	"context"
	"errors"
	"net"
	"path/filepath"
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
	t.Setenv("WATCHDOG_USEC", "100000") // 100 ms: ping every 50 ms
	var healthy atomic.Bool
	healthy.Store(true)
	var failures atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := New(nil)
	interval := n.Watchdog(ctx, func(_ context.Context, deadline time.Duration) error {
		if deadline != 25*time.Millisecond {
			t.Errorf("check deadline %s, want a quarter of the interval", deadline)
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

func TestNoWatchdogConfigured(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "")
	if d := New(nil).Watchdog(context.Background(), nil, nil); d != 0 {
		t.Fatalf("interval %s without WATCHDOG_USEC", d)
	}
}
