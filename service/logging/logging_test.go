package logging

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestStalledOutput: with the output blocked for good, logging returns at once, the stall shows, and
// Close gives up instead of holding the exit.
func TestStalledOutput(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	log, out := New(zerolog.InfoLevel, w)
	line := strings.Repeat("x", 200)
	start := time.Now()
	for range 2 * Buffer {
		log.Info().Msg(line) // 2 x 4,096 lines of ~300 bytes: far beyond the 64 KiB pipe
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("logging took %s with the output blocked", took)
	}
	for deadline := time.Now().Add(10 * time.Second); out.Stalled() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Stalled() stays 0 with the output blocked")
		}
	}
	if err := out.Close(); err == nil || !strings.Contains(err.Error(), "stalled") {
		t.Fatalf("Close with the output blocked: %v", err)
	}
	w.Close()
}

// TestLinesArriveAndClose: lines reach the output as JSON, and Close flushes them.
func TestLinesArriveAndClose(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	log, out := New(zerolog.InfoLevel, w)
	log.Debug().Msg("hidden")
	log.Info().Msg("one")
	log.Warn().Msg("two")
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4096)
	n, _ := r.Read(b)
	lines := strings.Split(strings.TrimSpace(string(b[:n])), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"level":"info"`) || !strings.Contains(lines[1], `"message":"two"`) ||
		!strings.Contains(lines[0], `"service":"scaleapp"`) || out.Dropped() != 0 {
		t.Fatalf("output %q, dropped %d", lines, out.Dropped())
	}
}
