package stress

import (
	"errors"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// idleThreads lists this process's threads at SCHED_IDLE: the isolated burners, and only them.
func idleThreads(t *testing.T) []string {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, task := range tasks {
		stat, err := os.ReadFile("/proc/self/task/" + task.Name() + "/stat")
		if err != nil {
			continue // the thread exited meanwhile
		}
		// Fields after the command name, which is in parentheses and may hold spaces; policy is field 41.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
		if f[38] == strconv.Itoa(unix.SCHED_IDLE) {
			out = append(out, task.Name())
		}
	}
	return out
}

// TestBurnerThreads: a job runs one burner per worker, each on a thread of its own at SCHED_IDLE. (The
// threads leave with their goroutines, which never unlock them; TestStopFreesEverything checks that the
// goroutines end. How much CPU the burners take is no pass/fail figure: CPU hogs beside the test take it
// from idle-priority burners, which is the point of the isolation, and on a loaded machine such a thread
// may wait seconds for a CPU. `make bench` measures the machine's CPU during /cpu load=100 and load=50
// on an idle machine, next to stress-ng.)
func TestBurnerThreads(t *testing.T) {
	for _, workers := range []int{1, 3} {
		leftover := idleThreads(t) // a previous job's threads may still be on their way out
		m := NewManager(true, nil)
		if _, err := m.Start(Params{Duration: time.Minute, Load: 10, Workers: workers}); err != nil {
			t.Fatal(err)
		}
		var burners []string
		for deadline := time.Now().Add(10 * time.Second); len(burners) < workers && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			burners = slices.DeleteFunc(idleThreads(t), func(tid string) bool { return slices.Contains(leftover, tid) })
		}
		time.Sleep(100 * time.Millisecond) // one more than asked would show now
		burners = slices.DeleteFunc(idleThreads(t), func(tid string) bool { return slices.Contains(leftover, tid) })
		m.Stop()
		if len(burners) != workers {
			t.Fatalf("%d threads at SCHED_IDLE during a %d-worker job, want one per worker", len(burners), workers)
		}
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
	// A duty cycle is 100 ms; the limit leaves room for a busy machine and is still far from the job's
	// minute, which burners that ignored Stop would run.
	if took := time.Since(start); took > 5*time.Second {
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
	if job := waitIdle(t, m, 10*time.Second); job.State != Finished {
		t.Fatalf("state %q", job.State)
	}
}

// TestOperatorGOMAXPROCSSurvivesAJob: a GOMAXPROCS set by the operator is in force again after a job, not
// the runtime default (runtime.SetDefaultGOMAXPROCS ignores the environment).
func TestOperatorGOMAXPROCSSurvivesAJob(t *testing.T) {
	operator := runtime.NumCPU() + 3 // differs from the default on any machine
	t.Setenv("GOMAXPROCS", strconv.Itoa(operator))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(operator))
	m := NewManager(true, nil)
	if _, err := m.Start(Params{Duration: time.Minute, Load: 1, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	if got := runtime.GOMAXPROCS(0); got != operator+2 {
		t.Fatalf("GOMAXPROCS during the job = %d, want %d", got, operator+2)
	}
	m.Stop()
	if got := runtime.GOMAXPROCS(0); got != operator {
		t.Fatalf("GOMAXPROCS after the job = %d, want the operator's %d", got, operator)
	}
}

func TestClosedManagerRefusesJobs(t *testing.T) {
	m := NewManager(true, nil)
	if _, err := m.Start(Params{Duration: time.Minute, Load: 1, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	if job, ok := m.Close(); !ok || job.State != Stopped {
		t.Fatalf("Close did not stop the running job: %v %+v", ok, job)
	}
	if _, err := m.Start(Params{Duration: time.Minute, Load: 1, Workers: 1}); !errors.Is(err, ErrClosed) {
		m.Stop()
		t.Fatalf("Start after Close: %v, want ErrClosed", err)
	}
}

// TestIsolationLossIsCountedAndToldOnce: burners that cannot lower their priority still burn, and the
// loss is counted per thread and told once.
func TestIsolationLossIsCountedAndToldOnce(t *testing.T) {
	m := NewManager(true, nil)
	m.lowerPriority = func() error { return errors.New("operation not permitted") }
	var told []error
	m.OnIsolationLost(func(err error) { told = append(told, err) })
	for range 2 {
		if _, err := m.Start(Params{Duration: 50 * time.Millisecond, Load: 100, Workers: 2}); err != nil {
			t.Fatal(err)
		}
		waitIdle(t, m, 10*time.Second)
	}
	if n := m.NotIsolated(); n != 4 {
		t.Fatalf("NotIsolated() = %d, want 4 (2 jobs x 2 burners)", n)
	}
	if len(told) != 1 || !strings.Contains(told[0].Error(), "not permitted") {
		t.Fatalf("told %v, want the first failure once", told)
	}
}
