// Package logging builds scaleapp's logger: zerolog JSON lines (journald and CloudWatch keep them), or
// coloured text on a terminal, written through zerolog's diode, a lock-free ring buffer that one
// goroutine empties. A stalled output (stdout on a pipe nobody reads, a stuck journald) then costs log
// lines, counted for /metrics, and never a request: the request log line is written before the answer
// leaves, so a blocking write would wedge every endpoint, /health included.
package logging

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/rs/zerolog/diode"

	"github.com/scaleapp/scaleapp/contract"
	"github.com/scaleapp/scaleapp/service/buildinfo"
)

// Buffer is how many lines wait for a slow output before the oldest are dropped: about a second of the
// request log at 4,000 logged requests/s, and at most about 2 MB.
const Buffer = 4096

// pollInterval 0 makes the diode's goroutine sleep until a line arrives instead of polling: polling
// every 10 ms cost an idle service 1.4% of a core (measured), and up to 10 ms more at exit, when Close
// waits for the last lines. (Its one cost: in a rare race a line waits for the next one to be written.)
const pollInterval = 0

// Output is the log's destination. Close flushes what is buffered.
type Output struct {
	w       diode.Writer
	dropped atomic.Int64
	// writingSince is when the write under way began (unix ns), 0 between writes. The diode learns of
	// lines it lost only when it reads again, so a write that never returns shows here instead.
	writingSince atomic.Int64
}

// New returns the service's logger at level, writing to out, and the Output to close at exit.
func New(level zerolog.Level, out io.Writer) (zerolog.Logger, *Output) {
	zerolog.TimeFieldFormat = time.RFC3339Nano
	if f, ok := out.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		out = zerolog.ConsoleWriter{Out: f, TimeFormat: "15:04:05.000"}
	}
	o := &Output{}
	o.w = diode.NewWriter(timedWriter{out, o}, Buffer, pollInterval, func(missed int) { o.dropped.Add(int64(missed)) })
	log := zerolog.New(o.w).Level(level).With().Timestamp().
		Str("service", contract.C.Name).Str("version", buildinfo.Version).Logger()
	return log, o
}

// Dropped is how many lines were lost because the output did not keep up. A loss is counted once the
// output moves again.
func (o *Output) Dropped() int64 { return o.dropped.Load() }

// Stalled is how long the write under way has been blocked, 0 when none is.
func (o *Output) Stalled() time.Duration {
	since := o.writingSince.Load()
	if since == 0 {
		return 0
	}
	return time.Since(time.Unix(0, since))
}

// timedWriter marks the time of the write under way; only the diode's goroutine writes.
type timedWriter struct {
	out io.Writer
	o   *Output
}

func (t timedWriter) Write(p []byte) (int, error) {
	t.o.writingSince.Store(time.Now().UnixNano())
	defer t.o.writingSince.Store(0)
	return t.out.Write(p)
}

// closeWait bounds Close: an output stuck for good must not hold the process's exit until systemd's
// SIGKILL.
const closeWait = 2 * time.Second

// Close writes out the buffered lines and closes the destination, or gives up after closeWait.
func (o *Output) Close() error {
	done := make(chan error, 1)
	go func() { done <- o.w.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(closeWait):
		return fmt.Errorf("log output stalled for %s at exit: buffered lines lost", closeWait)
	}
}
