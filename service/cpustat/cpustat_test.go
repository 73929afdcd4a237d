package cpustat

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeProc writes a /proc/stat and /proc/self/stat pair the sampler reads.
type fakeProc struct {
	t          *testing.T
	stat, self string
}

func newFakeProc(t *testing.T) *fakeProc {
	dir := t.TempDir()
	return &fakeProc{t: t, stat: filepath.Join(dir, "stat"), self: filepath.Join(dir, "self")}
}

// set writes the machine's busy and idle jiffies (over 2 CPUs) and the process's utime and stime.
func (f *fakeProc) set(user, idle, utime, stime int) {
	stat := "cpu  " + itoa(user) + " 0 0 " + itoa(idle) + " 0 0 0 0 0 0\ncpu0 1 0 0 1 0 0 0 0 0 0\ncpu1 1 0 0 1 0 0 0 0 0 0\nintr 1\n"
	// A command name with a space and a parenthesis, as a renamed process may have.
	self := "4242 (scale app) x) S 1 1 1 0 -1 4194560 100 0 0 0 " + itoa(utime) + " " + itoa(stime) + " 0 0 20 0 9 0 1 1 1\n"
	for p, b := range map[string]string{f.stat: stat, f.self: self} {
		if err := os.WriteFile(p, []byte(b), 0o600); err != nil {
			f.t.Fatal(err)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestSamplesMachineAndProcess(t *testing.T) {
	f := newFakeProc(t)
	s := newSampler(f.stat, f.self)
	t0 := time.Unix(1000, 0)
	f.set(0, 0, 0, 0)
	s.sample(t0)
	// One second on 2 CPUs = 200 jiffies: 150 busy (75%), of which the process used 30+20 (25%).
	f.set(150, 50, 30, 20)
	s.sample(t0.Add(time.Second))
	rep := s.Since(0)
	if rep.MachineUnavailable != "" || rep.CPUs != 2 || len(rep.Samples) != 1 {
		t.Fatalf("report %+v", rep)
	}
	got := rep.Samples[0]
	if got.Machine == nil || *got.Machine != 75 || got.Process != 25 || got.At != t0.Add(time.Second).UnixMilli() {
		t.Fatalf("sample %+v (machine %v), want machine 75, process 25", got, got.Machine)
	}
	if later := s.Since(got.At); len(later.Samples) != 0 {
		t.Fatalf("Since(last sample) = %d samples, want none", len(later.Samples))
	}
}

func TestRingIsBounded(t *testing.T) {
	f := newFakeProc(t)
	s := newSampler(f.stat, f.self)
	t0 := time.Unix(1000, 0)
	const n = size + 50
	for i := range n {
		f.set(i*100, i*100, i*10, 0)
		s.sample(t0.Add(time.Duration(i) * time.Second))
	}
	rep := s.Since(0)
	if len(rep.Samples) != size {
		t.Fatalf("%d samples kept after %d seconds, want the last %d", len(rep.Samples), n, size)
	}
	first, last := rep.Samples[0].At, rep.Samples[size-1].At
	if want := t0.Add(time.Duration(n-1) * time.Second).UnixMilli(); last != want || last-first != int64(size-1)*1000 {
		t.Fatalf("samples span %d..%d, want the %d seconds ending %d, oldest first", first, last, size, want)
	}
}

// TestMachineUnreadable: with /proc/stat hidden (ProcSubset=pid), the machine series is absent and the
// reason is reported; the process series goes on.
func TestMachineUnreadable(t *testing.T) {
	f := newFakeProc(t)
	f.set(0, 0, 0, 0)
	s := newSampler(filepath.Join(t.TempDir(), "missing"), f.self)
	t0 := time.Unix(1000, 0)
	s.sample(t0)
	f.set(0, 0, 50, 0)
	s.sample(t0.Add(time.Second))
	rep := s.Since(0)
	if !strings.Contains(rep.MachineUnavailable, "machine CPU unavailable") || !strings.Contains(rep.MachineUnavailable, "missing") {
		t.Fatalf("reason %q", rep.MachineUnavailable)
	}
	if len(rep.Samples) != 1 || rep.Samples[0].Machine != nil {
		t.Fatalf("samples %+v, want one without a machine value", rep.Samples)
	}
	// 50 jiffies over 1 s of runtime.NumCPU() CPUs.
	if want := 50.0 / float64(rep.CPUs); rep.Samples[0].Process < want-0.1 || rep.Samples[0].Process > want+0.1 {
		t.Fatalf("process %.1f%%, want %.1f%%", rep.Samples[0].Process, want)
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"", "intr 1\n", "cpu  1 2 x 4 5\ncpu0 1 2 3 4 5\n", "cpu  1 2 3 4 5\n"} {
		if _, _, _, err := parseStat([]byte(in)); err == nil {
			t.Errorf("parseStat(%q) accepted", in)
		}
	}
	for _, in := range []string{"", "1 (x) S 1", "1 x S 1 2 3 4 5 6 7 8 9 10 11 12 13"} {
		if _, err := parseSelf([]byte(in)); err == nil {
			t.Errorf("parseSelf(%q) accepted", in)
		}
	}
}

// TestRealProc reads this machine's /proc: the counters parse and a busy second shows up.
func TestRealProc(t *testing.T) {
	s := New()
	s.sample(time.Now())
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
	}
	s.sample(time.Now())
	rep := s.Since(0)
	if rep.MachineUnavailable != "" || len(rep.Samples) != 1 || rep.Samples[0].Machine == nil {
		t.Fatalf("report %+v", rep)
	}
	if rep.Samples[0].Process <= 0 {
		t.Fatalf("a busy loop did not show in the process series: %+v", rep.Samples[0])
	}
}

// BenchmarkSample is the sampler's whole cost: one of these a second.
func BenchmarkSample(b *testing.B) {
	s := New()
	now := time.Now()
	for i := range b.N {
		s.sample(now.Add(time.Duration(i) * time.Second))
	}
}
