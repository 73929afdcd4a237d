package httpapi

import (
	"strings"
	"testing"
	"time"

	"github.com/scaleapp/scaleapp/service/stress"
)

func TestQuerySeconds(t *testing.T) {
	cases := []struct {
		raw     string
		want    time.Duration
		wantErr string
	}{
		{"", 60 * time.Second, ""},
		{"seconds=1.5", 1500 * time.Millisecond, ""},
		{"seconds=900", 900 * time.Second, ""},
		{"seconds=1e2", 0, "not a number"},
		{"seconds=900.001", 0, "out of range"},
		{"seconds=0x1p4", 0, "not a number"},
		{"seconds=.5", 500 * time.Millisecond, ""},
		{"seconds=+Inf", 0, "not a number"},
		{"seconds=1;2", 0, "malformed"},
	}
	for _, c := range cases {
		t.Run(c.raw, func(t *testing.T) {
			q, err := parseQuery(c.raw, "seconds")
			var d time.Duration
			if err == nil {
				d, err = q.seconds("seconds", time.Minute, 900*time.Second)
			}
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || d != c.want {
				t.Fatalf("got %v %v, want %v", d, err, c.want)
			}
		})
	}
}

// FuzzCPUParams: whatever the query, parsing either fails with a message or yields a job within bounds;
// it never panics.
func FuzzCPUParams(f *testing.F) {
	for _, s := range []string{"", "seconds=1", "seconds=1&load=50&workers=2", "load=%zz", "seconds=1e308",
		"seconds=-0", "workers=9999999999999999999", "a=1&a=2", "seconds=4.9e-324", "load=+7"} {
		f.Add(s)
	}
	a := &api{}
	a.Config.CPUStressTime = time.Minute
	a.Config.StressMax = 900 * time.Second
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := a.cpuParams(raw)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if p.Duration < time.Millisecond || p.Duration > 900*time.Second || p.Load < 1 || p.Load > 100 ||
			p.Workers < 1 || p.Workers > stress.MaxWorkers() {
			t.Fatalf("out-of-bounds params %+v from %q", p, raw)
		}
	})
}
