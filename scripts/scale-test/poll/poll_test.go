package poll

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scaleapp/scaleapp/scripts/scale-test/timeline"
)

// script drives the fakes: entry i is what poll i sees.
type step struct {
	state    FleetState
	fleetErr error
	ids      []string
	probeErr error
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.t = c.t.Add(d)
	return ctx.Err()
}

type fake struct {
	steps []step
	i     int // polls so far
}

func (f *fake) cur() step {
	if f.i < len(f.steps) {
		return f.steps[f.i]
	}
	return f.steps[len(f.steps)-1] // the fleet stays as it last was
}
func (f *fake) State(context.Context) (FleetState, error) { s := f.cur(); return s.state, s.fleetErr }

// Answering is called after State in every poll, so it moves the script on.
func (f *fake) Answering(context.Context) ([]string, int, error) {
	s := f.cur()
	f.i++
	failed := 0
	if s.probeErr != nil {
		failed = 1
	}
	return s.ids, failed, s.probeErr
}

// judge is the scale-out verdict for a policy named "pol".
func judge(s []timeline.Sample) (Verdict, error) { return timeline.JudgeScaleOut(s, []string{"pol"}) }

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func TestRun(t *testing.T) {
	launch := Activity{ID: "a2", Start: at(40), Status: "InProgress", Description: "Launching a new EC2 instance: i-c", Cause: "triggered policy pol"}
	old := Activity{ID: "a1", Start: at(-3600), Status: "Successful", Description: "Launching a new EC2 instance: i-b"}
	cases := []struct {
		name      string
		steps     []step
		timeout   time.Duration
		wantPolls int
		scaledOut bool
		wantErr   string
		wantOut   []string // substrings of the output, in order
		notOut    []string
	}{
		{
			name: "stops as soon as a new instance answers",
			steps: []step{
				{state: FleetState{Desired: 2, InService: 2, Healthy: 2, Activities: []Activity{old}}, ids: []string{"i-a", "i-b"}},
				{state: FleetState{Desired: 3, InService: 2, Healthy: 2, Activities: []Activity{old}}, ids: []string{"i-a"}},
				{state: FleetState{Desired: 3, InService: 3, Healthy: 2, Activities: []Activity{launch, old}}, ids: []string{"i-b"}},
				{state: FleetState{Desired: 3, InService: 3, Healthy: 3, Activities: []Activity{{ID: "a2", Start: at(40), Status: "Successful"}, old}}, ids: []string{"i-c"}},
				{state: FleetState{Desired: 3, InService: 3, Healthy: 3}, ids: []string{"i-c"}},
			},
			timeout: 10 * time.Minute, wantPolls: 4, scaledOut: true,
			wantOut: []string{
				"+   0s  desired 2  in-service 2  healthy 2  answering 2 [i-a i-b]\n",
				"+  30s  desired 3  in-service 2",
				"+  60s  desired 3  in-service 3  healthy 2  answering 1 [i-b]\n        activity: [InProgress] Launching a new EC2 instance: i-c\n" +
					"          cause: triggered policy pol\n",
				"+  90s  desired 3  in-service 3  healthy 3  answering 1 [i-c]\n",
			},
			notOut: []string{"i-b\n        activity", "[Successful]"}, // history and repeats are not printed
		},
		{
			name:    "times out without scale-out",
			steps:   []step{{state: FleetState{Desired: 2, InService: 2, Healthy: 2}, ids: []string{"i-a", "i-b"}}},
			timeout: 100 * time.Second, wantPolls: 4, scaledOut: false, // polls at 0, 30, 60, 90 s
			wantOut: []string{"+  90s  desired 2"},
			notOut:  []string{"+ 120s"},
		},
		{
			name: "failed polls are printed and survived",
			steps: []step{
				{fleetErr: errors.New("DescribeAutoScalingGroups: throttled"), probeErr: errors.New("GET /: 502"), ids: nil},
				{state: FleetState{Desired: 1, InService: 1, Healthy: 1}, ids: []string{"i-a"}},
				{state: FleetState{Desired: 2, InService: 2, Healthy: 2, Activities: []Activity{{ID: "l", Description: "Launching a new EC2 instance: i-b", Cause: "policy pol"}}}, ids: []string{"i-b"}},
			},
			timeout: 10 * time.Minute, wantPolls: 3, scaledOut: true,
			wantOut: []string{"+   0s  poll failed: DescribeAutoScalingGroups: throttled  answering 0 (probe: GET /: 502)\n"},
		},
		{
			name:    "never a successful poll is an error, not a verdict",
			steps:   []step{{fleetErr: errors.New("no credentials")}},
			timeout: 60 * time.Second, wantPolls: 3, wantErr: "no successful poll", // 0, 30, 60 s
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fake{steps: c.steps}
			clk := &fakeClock{t: t0}
			var out strings.Builder
			v, err := Loop{Fleet: f, Prober: f, Judge: judge, Interval: 30 * time.Second, Timeout: c.timeout, Out: &out,
				Now: clk.now, Sleep: clk.sleep}.Run(context.Background())
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if f.i != c.wantPolls {
				t.Errorf("%d polls, want %d", f.i, c.wantPolls)
			}
			if c.wantErr == "" && v.Passed() != c.scaledOut {
				t.Errorf("Passed() = %v, want %v (%s)", v.Passed(), c.scaledOut, v)
			}
			rest := out.String()
			for _, w := range c.wantOut {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q (in order); output:\n%s", w, out.String())
				}
				rest = rest[i+len(w):]
			}
			for _, n := range c.notOut {
				if strings.Contains(out.String(), n) {
					t.Errorf("output holds %q; output:\n%s", n, out.String())
				}
			}
		})
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	f := &fake{steps: []step{{state: FleetState{Desired: 1, InService: 1, Healthy: 1}}}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Loop{Fleet: f, Prober: f, Judge: judge, Interval: time.Hour, Timeout: 2 * time.Hour, Out: &strings.Builder{}}.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestRunRejectsBadDurations(t *testing.T) {
	for _, l := range []Loop{{Interval: 0, Timeout: time.Minute}, {Interval: time.Second, Timeout: -1}} {
		if _, err := l.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "must be positive") {
			t.Errorf("Run(%v, %v) err = %v", l.Interval, l.Timeout, err)
		}
	}
}

func TestActivityLog(t *testing.T) {
	var a activityLog
	first := []Activity{{ID: "old", Start: at(5), Status: "Successful", Description: "launched before the first poll"}}
	if got := a.news(first); len(got) != 0 {
		t.Errorf("first poll reported %v: it is history whatever its start time says", got)
	}
	later := append(first,
		Activity{ID: "b", Start: at(70), Status: "InProgress", Description: "Launching i-2"},
		Activity{ID: "a", Start: at(60), Status: "Successful", Description: "Launching i-1"})
	want := []timeline.Activity{{Status: "Successful", Description: "Launching i-1"}, {Status: "InProgress", Description: "Launching i-2"}} // oldest first
	if got := a.news(later); !slices.Equal(got, want) {
		t.Errorf("second poll reported %v, want %v", got, want)
	}
	if got := a.news(later); len(got) != 0 {
		t.Errorf("third poll repeated %v", got)
	}
}
