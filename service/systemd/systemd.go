// Package systemd speaks the sd_notify protocol (https://www.freedesktop.org/software/systemd/man/sd_notify.html)
// through go-systemd: READY=1 once the listener is bound, STATUS= lines an operator sees in
// `systemctl status`, WATCHDOG=1 pings gated on a real self-check, STOPPING=1 at shutdown. Every call is a
// no-op when NOTIFY_SOCKET is unset, so the same binary runs in a terminal, a container or under systemd.
package systemd

import (
	"context"
	"os"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends state changes to systemd.
type Notifier struct {
	onErr func(error)
}

// New makes a notifier; onErr hears about a socket that exists but refuses the message.
func New(onErr func(error)) *Notifier { return &Notifier{onErr: onErr} }

func (n *Notifier) send(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil && n.onErr != nil {
		n.onErr(err)
	}
}

// Ready tells systemd the service is serving, with its first status line.
func (n *Notifier) Ready(status string) { n.send(daemon.SdNotifyReady + "\nSTATUS=" + status) }

// Status sets the free-form status line.
func (n *Notifier) Status(status string) { n.send("STATUS=" + status) }

// Stopping tells systemd the service is shutting down on its own accord or on request.
func (n *Notifier) Stopping(status string) { n.send(daemon.SdNotifyStopping + "\nSTATUS=" + status) }

// Watchdog pings systemd every third of the interval it asked for (WATCHDOG_USEC), but only after check
// passes within a sixth of it: a wedged server stops the pings and systemd restarts it. One failed or slow
// check therefore never costs a healthy process its life: the next ping still lands at most 5/6 of the
// interval after the last one; two failed checks in a row do. It returns when ctx ends, at once when no
// watchdog is configured or no socket listens (nothing to ping, so no self-checks either), and reports the
// interval it found.
func (n *Notifier) Watchdog(ctx context.Context, check func(ctx context.Context, deadline time.Duration) error, onFail func(error)) time.Duration {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval == 0 || os.Getenv("NOTIFY_SOCKET") == "" {
		return 0
	}
	go func() {
		t := time.NewTicker(interval / 3)
		defer t.Stop()
		for {
			if err := check(ctx, interval/6); err != nil {
				if ctx.Err() != nil {
					return
				}
				onFail(err)
			} else {
				n.send(daemon.SdNotifyWatchdog)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return interval
}
