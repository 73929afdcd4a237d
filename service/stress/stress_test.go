package stress

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cpuTime is this process's user+system CPU time from /proc/self/stat.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ, fixed at 100 in the Linux ABI
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}

func TestCPUAccuracy(t *testing.T) {
	cases := []struct {
		load, workers int
		isolate       bool
	}{
		{100, 1, true},
		{50, 1, true},
		{25, 2, true},
		{100, 1, false},
	}
	for _, c := range cases {
		t.Run(strconv.Itoa(c.load)+"%x"+strconv.Itoa(c.workers)+"/isolate="+strconv.FormatBool(c.isolate), func(t *testing.T) {
			m := NewManager(c.isolate, nil)
			const seconds = 2
			before := cpuTime(t)
			if _, err := m.Start(Params{Duration: seconds * time.Second, Load: c.load, Workers: c.workers}); err != nil {
				t.Fatal(err)
			}
			waitIdle(t, m, seconds*time.Second+time.Second)
			used := cpuTime(t) - before
			want := time.Duration(seconds*c.workers*c.load) * time.Second / 100
			if ratio := float64(used) / float64(want); ratio < 0.85 || ratio > 1.15 {
				t.Fatalf("burned %s of CPU, want %s +-15%% (ratio %.2f)", used, want, ratio)
			}
			t.Logf("burned %s of CPU for %s wanted", used, want)
		})
	}
}

func waitIdle(t *testing.T, m *Manager, within time.Duration) Job {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if job, running, ok := m.Status(); ok && !running {
			return job
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("job still running after %s", within)
	return Job{}
}

func TestOneJobAtATime(t *testing.T) {
	m := NewManager(true, nil)
	first, err := m.Start(Params{Duration: time.Minute, Load: 1, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	running, err := m.Start(Params{Duration: time.Second, Load: 100, Workers: 1})
	if !errors.Is(err, ErrRunning) || running.ID != first.ID {
		t.Fatalf("second Start: %v, %+v", err, running)
	}
}

func TestStopFreesEverything(t *testing.T) {
	base := runtime.GOMAXPROCS(0)
	before := runtime.NumGoroutine()
	var events []string
	var m *Manager
	m = NewManager(true, func() {
		job, _, _ := m.Status()
		events = append(events, job.State)
	})
	if _, err := m.Start(Params{Duration: time.Minute, Load: 10, Workers: 3}); err != nil {
		t.Fatal(err)
	}
	if got := runtime.GOMAXPROCS(0); got != base+3 {
		t.Fatalf("GOMAXPROCS during the job = %d, want %d (headroom for the server)", got, base+3)
	}
	start := time.Now()
	job, ok := m.Stop()
	if !ok || job.State != Stopped || job.EndedAt == nil {
		t.Fatalf("Stop: %v %+v", ok, job)
	}
	if took := time.Since(start); took > 150*time.Millisecond {
		t.Fatalf("Stop took %s; burners must stop within a duty cycle", took)
	}
	if got := runtime.GOMAXPROCS(0); got != base {
		t.Fatalf("GOMAXPROCS after the job = %d, want %d", got, base)
	}
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after Stop, %d before", n, before)
	}
	if strings.Join(events, ",") != "running,stopped" {
		t.Fatalf("onChange saw %v", events)
	}
	if _, ok := m.Stop(); ok {
		t.Fatal("Stop with no job reported one")
	}
}

func TestFinishes(t *testing.T) {
	m := NewManager(false, nil)
	if _, _, ok := m.Status(); ok {
		t.Fatal("a new manager reports a job")
	}
	if _, err := m.Start(Params{Duration: 50 * time.Millisecond, Load: 100, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	if job := waitIdle(t, m, time.Second); job.State != Finished {
		t.Fatalf("state %q", job.State)
	}
}
