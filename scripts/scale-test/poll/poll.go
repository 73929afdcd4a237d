// Package poll runs a scale test's loop: poll the fleet and the load balancer, print one timeline line
// per poll, stop when the mode's verdict has nothing left to prove, or at the timeout. The AWS side, the
// HTTP side and the verdict are interfaces so the loop itself is tested with fakes.
package poll

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/scaleapp/scaleapp/scripts/scale-test/timeline"
)

// Activity is one Auto Scaling activity.
type Activity struct {
	ID          string
	Start       time.Time
	Status      string // e.g. Successful, InProgress, Failed
	Description string // e.g. "Launching a new EC2 instance: i-0123"
	Cause       string
}

// FleetState is what the AWS APIs say about the group at one moment.
type FleetState struct {
	Desired, InService, Healthy int
	Instances                   []timeline.Instance // the group's members and their targets' states
	Activities                  []Activity          // the most recent ones, in any order
}

// Fleet reads the Auto Scaling group and its target group.
type Fleet interface {
	State(ctx context.Context) (FleetState, error)
}

// Prober asks the load balancer who answers: the distinct instance ids, and how many requests failed.
type Prober interface {
	Answering(ctx context.Context) (ids []string, failed int, err error)
}

// Verdict is a mode's judgement of the polls so far.
type Verdict interface {
	Done() bool   // nothing left to prove: stop polling
	Passed() bool // the run proved what it set out to
	String() string
}

// Judge computes a verdict from every poll so far (timeline.JudgeScaleOut or JudgeReplace, bound).
type Judge func([]timeline.Sample) (Verdict, error)

// Loop is one configured run.
type Loop struct {
	Fleet    Fleet
	Prober   Prober
	Judge    Judge
	Watch    string        // an instance to follow on every line (replace mode), or ""
	Interval time.Duration // between polls
	Timeout  time.Duration // the run fails when the verdict is not done by then
	Out      io.Writer
	Now      func() time.Time                           // time.Now unless a test sets it
	Sleep    func(context.Context, time.Duration) error // sleeps (or ctx ends) unless a test sets it
}

// Sleep waits d, or less when ctx ends first (then its error).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Run polls until the verdict is done or the timeout. The error is for a run that could not be judged
// at all (no successful poll, or ctx cancelled); the verdict may still be nil then.
func (l Loop) Run(ctx context.Context) (Verdict, error) {
	if l.Interval <= 0 || l.Timeout <= 0 {
		return nil, fmt.Errorf("interval (%v) and timeout (%v) must be positive", l.Interval, l.Timeout)
	}
	now, pause := l.Now, l.Sleep
	if now == nil {
		now = time.Now
	}
	if pause == nil {
		pause = Sleep
	}
	start := now()
	var acts activityLog
	var samples []timeline.Sample
	for {
		s := l.once(ctx, start, now, &acts)
		samples = append(samples, s)
		fmt.Fprintln(l.Out, s.Line())

		v, err := l.Judge(samples)
		if err == nil && v.Done() {
			return v, nil
		}
		if now().Sub(start)+l.Interval > l.Timeout {
			return v, err
		}
		if err := pause(ctx, l.Interval); err != nil {
			return v, err
		}
	}
}

// once takes one sample.
func (l Loop) once(ctx context.Context, start time.Time, now func() time.Time, acts *activityLog) timeline.Sample {
	var s timeline.Sample
	st, err := l.Fleet.State(ctx)
	if err != nil {
		s.Err = err.Error()
	} else {
		s.Desired, s.InService, s.Healthy, s.Instances = st.Desired, st.InService, st.Healthy, st.Instances
		s.Activities = acts.news(st.Activities)
	}
	ids, failed, err := l.Prober.Answering(ctx)
	if err != nil {
		s.ProbeErr = err.Error()
	}
	s.Answering, s.Failed, s.Watch = ids, failed, l.Watch
	s.Elapsed = now().Sub(start)
	return s
}

// activityLog remembers the scaling activities already reported. The activities of the first successful
// poll are history (the test cannot have caused them yet) and are not printed; each later one is printed
// once, when first seen, with its status then. Comparing IDs rather than start times keeps clock skew
// between this host and AWS out of it.
type activityLog struct {
	seen   map[string]bool
	primed bool
}

func (a *activityLog) news(all []Activity) []timeline.Activity {
	if a.seen == nil {
		a.seen = map[string]bool{}
	}
	var out []timeline.Activity
	for _, act := range oldestFirst(all) {
		if a.seen[act.ID] {
			continue
		}
		a.seen[act.ID] = true
		if a.primed {
			out = append(out, timeline.Activity{Status: act.Status, Description: act.Description, Cause: act.Cause})
		}
	}
	a.primed = true
	return out
}

func oldestFirst(in []Activity) []Activity {
	out := slices.Clone(in)
	slices.SortStableFunc(out, func(a, b Activity) int { return a.Start.Compare(b.Start) })
	return out
}
