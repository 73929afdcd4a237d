// Package cpustat samples the machine's CPU (/proc/stat) and this process's (/proc/self/stat) once a
// second into a fixed ring holding the last five minutes, for the dashboard's chart. A sample costs two
// small file reads; memory is the ring, whatever the uptime.
//
// When /proc/stat cannot be read (a unit with ProcSubset=pid hides it) the machine series is left out
// and the reason is reported, instead of a made-up zero; the process series comes from /proc/self/stat,
// which every process can read.
package cpustat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// Window is how much history the ring keeps, at one sample per Interval.
const (
	Interval = time.Second
	Window   = 5 * time.Minute
	size     = int(Window / Interval)
)

// ticksPerSecond is USER_HZ, the unit of /proc/stat and /proc/self/stat: fixed at 100 in the Linux ABI.
const ticksPerSecond = 100

// Sample is one second of CPU use, in percent of every CPU of the machine (100 = all cores busy).
type Sample struct {
	At      int64    `json:"t"`                 // end of the second, Unix milliseconds
	Machine *float64 `json:"machine,omitempty"` // absent when /proc/stat is unreadable
	Process float64  `json:"process"`
}

// Report is what the dashboard gets.
type Report struct {
	IntervalSeconds float64 `json:"interval_seconds"`
	WindowSeconds   float64 `json:"window_seconds"`
	CPUs            int     `json:"cpus"`
	// MachineUnavailable says why the machine series is missing; empty when it is there.
	MachineUnavailable string   `json:"machine_unavailable,omitempty"`
	Samples            []Sample `json:"samples"`
}

// Sampler keeps the ring. The zero value is not usable: call New.
type Sampler struct {
	statPath, selfPath string

	mu         sync.Mutex
	ring       [size]Sample
	n, next    int // samples held, slot of the next one
	machineErr string
	cpus       int
	prev       reading
}

// reading is the raw counters at one instant.
type reading struct {
	at                 time.Time
	machine            bool   // /proc/stat was read
	machineBusy, total uint64 // jiffies over all CPUs
	cpus               int    // the CPUs that total covers
	process            uint64 // utime+stime of this process, jiffies
	ok                 bool   // /proc/self/stat was read
}

// New samples the real /proc.
func New() *Sampler { return newSampler("/proc/stat", "/proc/self/stat") }

func newSampler(statPath, selfPath string) *Sampler {
	return &Sampler{statPath: statPath, selfPath: selfPath, cpus: runtime.NumCPU()}
}

// Run samples every Interval until ctx ends.
func (s *Sampler) Run(ctx context.Context) {
	s.sample(time.Now())
	t := time.NewTicker(Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.sample(now)
		}
	}
}

// sample reads the counters at now and, from the second reading on, adds the use since the last one.
func (s *Sampler) sample(now time.Time) {
	r := reading{at: now}
	var statErr error
	if b, err := os.ReadFile(s.statPath); err != nil {
		statErr = err
	} else if r.machineBusy, r.total, r.cpus, statErr = parseStat(b); statErr != nil {
		statErr = fmt.Errorf("%s: %w", s.statPath, statErr)
	}
	if b, err := os.ReadFile(s.selfPath); err == nil {
		r.process, err = parseSelf(b)
		r.ok = err == nil
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if statErr != nil {
		s.machineErr = "machine CPU unavailable: " + statErr.Error()
	} else {
		r.machine = true
		s.machineErr = ""
		s.cpus = r.cpus
	}
	prev := s.prev
	s.prev = r
	if !r.ok || !prev.ok || !r.at.After(prev.at) {
		return
	}
	smp := Sample{At: r.at.UnixMilli()}
	// Process share of the whole machine: over the machine's own jiffies when it has them (the same
	// denominator as the machine series), else over the wall time of every CPU.
	denom := r.at.Sub(prev.at).Seconds() * ticksPerSecond * float64(s.cpus)
	if r.machine && prev.machine && r.total > prev.total && r.machineBusy >= prev.machineBusy {
		denom = float64(r.total - prev.total)
		busy := pct(float64(r.machineBusy-prev.machineBusy), denom)
		smp.Machine = &busy
	}
	if r.process >= prev.process {
		smp.Process = pct(float64(r.process-prev.process), denom)
	}
	s.ring[s.next] = smp
	s.next = (s.next + 1) % size
	s.n = min(s.n+1, size)
}

func pct(part, whole float64) float64 {
	p := 100 * part / whole
	p = max(0, min(100, p))
	return float64(int(p*10+0.5)) / 10 // one decimal is all a chart shows; keeps the JSON short
}

// Since returns the samples taken after t (Unix milliseconds), oldest first.
func (s *Sampler) Since(t int64) Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	rep := Report{IntervalSeconds: Interval.Seconds(), WindowSeconds: Window.Seconds(), CPUs: s.cpus,
		MachineUnavailable: s.machineErr, Samples: []Sample{}}
	for i := range s.n {
		smp := s.ring[(s.next-s.n+i+size)%size]
		if smp.At > t {
			rep.Samples = append(rep.Samples, smp)
		}
	}
	return rep
}

// parseStat reads the aggregate "cpu" line (busy and total jiffies) and counts the per-CPU lines it
// sums. Guest time is already counted in user time, so only the first eight fields add up to the
// total; idle and iowait are not busy.
func parseStat(b []byte) (busy, total uint64, cpus int, err error) {
	lines := bytes.Split(b, []byte("\n"))
	f := bytes.Fields(lines[0])
	if len(f) < 5 || string(f[0]) != "cpu" {
		return 0, 0, 0, errors.New("no aggregate cpu line")
	}
	for i, v := range f[1:min(len(f), 9)] {
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("cpu field %d: %w", i+1, err)
		}
		total += n
		if i != 3 && i != 4 {
			busy += n
		}
	}
	for _, l := range lines[1:] {
		if len(l) > 3 && bytes.HasPrefix(l, []byte("cpu")) && l[3] >= '0' && l[3] <= '9' {
			cpus++
		}
	}
	if cpus == 0 {
		return 0, 0, 0, errors.New("no per-CPU lines")
	}
	return busy, total, cpus, nil
}

// parseSelf reads utime+stime from /proc/self/stat. The fields are counted after the command name,
// which is in parentheses and may itself hold spaces or parentheses.
func parseSelf(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 > len(b) {
		return 0, errors.New("malformed /proc/self/stat")
	}
	f := bytes.Fields(b[i+2:])
	if len(f) < 13 {
		return 0, errors.New("short /proc/self/stat")
	}
	u, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return u + st, nil
}
