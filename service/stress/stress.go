// Package stress runs the CPU spike behind /cpu: one job at a time, a burner per worker, each burning a
// duty cycle of its CPU until the job ends or is stopped.
//
// The spike must fill every core (so CloudWatch sees the instance busy and the ASG scales out) without
// slowing /health (so the ALB does not replace a busy but healthy instance). With isolation on, each
// burner runs on an OS thread of its own at SCHED_IDLE priority, and GOMAXPROCS is raised by the number
// of burners while a job runs: the HTTP server always has a free P, and the kernel hands its thread the
// CPU the moment it wakes instead of after Go's ~10 ms preemption tick.
package stress

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Params is a validated request for a job.
type Params struct {
	Duration time.Duration
	Load     int // percent of each worker's CPU, 1-100
	Workers  int
}

// Job is what the API shows of a job.
type Job struct {
	ID        int64      `json:"id"`
	Seconds   float64    `json:"seconds"`
	Load      int        `json:"load"`
	Workers   int        `json:"workers"`
	State     string     `json:"state"` // running, finished or stopped
	StartedAt time.Time  `json:"started_at"`
	EndsAt    time.Time  `json:"ends_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
}

// Job states.
const (
	Running  = "running"
	Finished = "finished"
	Stopped  = "stopped"
)

// ErrRunning is returned by Start while another job runs.
var ErrRunning = errors.New("a CPU stress job is already running")

// ErrClosed is returned by Start once the process is shutting down.
var ErrClosed = errors.New("the instance is shutting down: no new CPU stress jobs")

// Manager runs at most one job at a time.
type Manager struct {
	isolate  bool
	onChange func()
	notifyMu sync.Mutex // one onChange at a time, so the last call always sees the latest state

	// lowerPriority moves the calling thread to idle priority (idlePriority outside tests).
	lowerPriority func() error
	// notIsolated counts burner threads that kept normal priority; onIsolationLost hears the first.
	notIsolated     atomic.Int64
	isolationLost   sync.Once
	onIsolationLost func(error)

	mu        sync.Mutex
	nextID    int64
	cur       *run // the running job, nil when idle
	last      *Job // the most recent job, running or not
	closed    bool
	procsHeld int // GOMAXPROCS before the running job raised it
}

type run struct {
	job   Job
	stop  atomic.Bool
	wake  chan struct{} // closed by Stop to end sleeps at once
	done  chan struct{} // closed once every burner has returned
	final Job           // the job as it ended, set before done is closed
}

// NewManager makes a manager. onChange, if not nil, is called after a job starts and after it ends;
// it reads the state it reports with Status, so calls that cross each other still end on the truth.
func NewManager(isolate bool, onChange func()) *Manager {
	return &Manager{isolate: isolate, onChange: onChange, lowerPriority: idlePriority}
}

// OnIsolationLost sets who hears, once, that a burner thread could not lower its priority: /health may
// then slow down under /cpu. Call it before the first Start.
func (m *Manager) OnIsolationLost(f func(error)) { m.onIsolationLost = f }

// NotIsolated counts the burner threads that ran at normal priority because both idle-priority calls
// failed.
func (m *Manager) NotIsolated() int64 { return m.notIsolated.Load() }

// MaxWorkers is the most burners a job may ask for.
func MaxWorkers() int { return 4 * runtime.NumCPU() }

// DefaultWorkers fills every CPU the process may use.
func DefaultWorkers() int { return runtime.NumCPU() }

// Start begins a job and returns it; while one runs it returns that job and ErrRunning.
func (m *Manager) Start(p Params) (Job, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return Job{}, ErrClosed
	}
	if m.cur != nil {
		defer m.mu.Unlock()
		return m.cur.job, ErrRunning
	}
	m.nextID++
	now := time.Now()
	r := &run{
		job: Job{ID: m.nextID, Seconds: p.Duration.Seconds(), Load: p.Load, Workers: p.Workers,
			State: Running, StartedAt: now, EndsAt: now.Add(p.Duration)},
		wake: make(chan struct{}),
		done: make(chan struct{}),
	}
	m.cur = r
	job := r.job
	m.last = &job
	if m.isolate {
		// Headroom: burners hold their Ps, the server keeps the ones it had.
		m.procsHeld = runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + p.Workers)
	}
	m.mu.Unlock()

	var wg sync.WaitGroup
	for range p.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if m.isolate {
				// The goroutine never unlocks, so its thread exits with it and the priority leaves with it.
				runtime.LockOSThread()
				m.lowerThreadPriority()
			}
			burn(r, p.Load)
		}()
	}
	go func() {
		wg.Wait()
		m.finish(r)
	}()
	m.notify()
	return job, nil
}

// finish records the end of a job once its burners are gone.
func (m *Manager) finish(r *run) {
	m.mu.Lock()
	end := time.Now()
	job := r.job
	job.State = Finished
	if r.stop.Load() && end.Before(job.EndsAt) {
		job.State = Stopped
	}
	job.EndedAt = &end
	r.final = job
	m.last = &job
	m.cur = nil
	if m.isolate {
		m.restoreProcs()
	}
	m.mu.Unlock()
	m.notify() // before done, so whoever waits in Stop sees the status already updated
	close(r.done)
}

// restoreProcs undoes the job's headroom. An operator's GOMAXPROCS is put back as it was; otherwise the
// runtime's own default returns, which also keeps following the CPU quota (Go >= 1.25).
// SetDefaultGOMAXPROCS alone would drop the operator's value: it ignores the environment.
func (m *Manager) restoreProcs() {
	if os.Getenv("GOMAXPROCS") != "" {
		runtime.GOMAXPROCS(m.procsHeld)
		return
	}
	runtime.SetDefaultGOMAXPROCS()
}

// lowerThreadPriority isolates the calling burner thread; a failure is counted, and told once.
func (m *Manager) lowerThreadPriority() {
	if err := m.lowerPriority(); err != nil {
		m.notIsolated.Add(1)
		m.isolationLost.Do(func() {
			if m.onIsolationLost != nil {
				m.onIsolationLost(err)
			}
		})
	}
}

func (m *Manager) notify() {
	if m.onChange == nil {
		return
	}
	m.notifyMu.Lock()
	defer m.notifyMu.Unlock()
	m.onChange()
}

// Stop ends the running job and waits until its burners have returned. ok is false when none ran.
func (m *Manager) Stop() (job Job, ok bool) {
	m.mu.Lock()
	r := m.cur
	m.mu.Unlock()
	if r == nil {
		return Job{}, false
	}
	if r.stop.CompareAndSwap(false, true) {
		close(r.wake)
	}
	<-r.done
	return r.final, true
}

// Close stops the running job, if any, and refuses every later Start with ErrClosed: once the process
// has decided to stop, no job may start and outlive that decision.
func (m *Manager) Close() (job Job, ok bool) {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	return m.Stop()
}

// Status returns the running job, or the last one (running false), or ok false if none ever ran.
func (m *Manager) Status() (job Job, running, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last == nil {
		return Job{}, false, false
	}
	return *m.last, m.cur != nil, true
}

// period is one duty cycle: long enough that sleeping is cheap, short enough that 50% looks like 50% on
// a 1-minute CloudWatch average and on `top`.
const period = 100 * time.Millisecond

// burn spins for load% of every period until the job ends or is stopped.
func burn(r *run, load int) {
	busy := period * time.Duration(load) / 100
	for {
		start := time.Now()
		if r.stop.Load() || !start.Before(r.job.EndsAt) {
			return
		}
		spinUntil(start.Add(busy), r.job.EndsAt, &r.stop)
		if load == 100 {
			continue
		}
		rest := time.Until(start.Add(period))
		if until := time.Until(r.job.EndsAt); until < rest {
			rest = until
		}
		if rest > 0 {
			t := time.NewTimer(rest)
			select {
			case <-t.C:
			case <-r.wake:
				t.Stop()
			}
		}
	}
}

// sink keeps the compiler from removing the arithmetic.
var sink atomic.Uint64

// spinUntil burns CPU until t or end, whichever is first, or until stop is set.
func spinUntil(t, end time.Time, stop *atomic.Bool) {
	if end.Before(t) {
		t = end
	}
	x := uint64(time.Now().UnixNano())
	for !stop.Load() && time.Now().Before(t) {
		for range 4096 { // ~10 µs of work between clock reads
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	sink.Add(x)
}

// idlePriority moves the calling thread to SCHED_IDLE, or failing that (an old kernel, a seccomp
// filter) to nice 19. Either way the thread only gets CPU that nothing else wants. If both fail the burn
// still works, at normal priority.
func idlePriority() error {
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}
	errIdle := unix.SchedSetAttr(0, &attr, 0)
	if errIdle == nil {
		return nil
	}
	if err := unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 19); err != nil {
		return fmt.Errorf("sched_setattr(SCHED_IDLE): %v; setpriority(19): %v", errIdle, err)
	}
	return nil
}
