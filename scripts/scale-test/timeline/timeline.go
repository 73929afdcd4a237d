// Package timeline turns the polls of a scale-out test into the lines a person reads and the final
// verdict. It holds no I/O and no clock, so every rule here is tested with plain tables.
package timeline

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Sample is one poll of the fleet and of the load balancer.
type Sample struct {
	Elapsed    time.Duration // since the test started
	Desired    int           // ASG desired capacity
	InService  int           // ASG instances in lifecycle state InService
	Healthy    int           // target group targets in state healthy
	Answering  []string      // distinct instance ids that answered through the ALB in this poll
	Activities []string      // scaling activity messages first seen in this poll
	Err        string        // why the AWS side of this poll failed; its counts are unknown
	ProbeErr   string        // why sampling through the ALB failed (the ids that did answer are kept)
}

// Line is the timeline line for one poll, then one indented line per new scaling activity.
func (s Sample) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "+%4ds", int(s.Elapsed.Round(time.Second)/time.Second))
	if s.Err != "" {
		fmt.Fprintf(&b, "  poll failed: %s", s.Err)
	} else {
		fmt.Fprintf(&b, "  desired %d  in-service %d  healthy %d", s.Desired, s.InService, s.Healthy)
	}
	ids := sortedUnique(s.Answering)
	fmt.Fprintf(&b, "  answering %d", len(ids))
	if len(ids) > 0 {
		fmt.Fprintf(&b, " [%s]", strings.Join(ids, " "))
	}
	if s.ProbeErr != "" {
		fmt.Fprintf(&b, " (probe: %s)", s.ProbeErr)
	}
	for _, a := range s.Activities {
		fmt.Fprintf(&b, "\n        activity: %s", a)
	}
	return b.String()
}

// Verdict sums a run up.
type Verdict struct {
	ScaledOut     bool
	From          int           // desired capacity at the first good poll: the baseline
	To            int           // the most in-service instances seen in a scale-out poll (From if none)
	After         time.Duration // elapsed at the first scale-out poll: desired and in-service both above From
	DesiredRaised bool
	DesiredAfter  time.Duration // elapsed at the first poll whose desired capacity exceeds From
	Reached       []string      // every distinct instance id that answered through the ALB
	Last          time.Duration // elapsed at the last poll
}

// ErrNoData means no poll succeeded, so there is no baseline to compare with.
var ErrNoData = errors.New("no successful poll of the Auto Scaling group: nothing to judge")

// Judge computes the verdict. The baseline is the desired capacity at the first poll that did not fail,
// so instances still launching then are not a scale-out when they come in service. A scale-out poll needs
// desired capacity above the baseline as well as more in-service instances: an instance refresh briefly
// adds an instance (max healthy 150%) but never raises desired capacity.
func Judge(samples []Sample) (Verdict, error) {
	var v Verdict
	base := -1
	for i, s := range samples {
		if s.Err == "" {
			base = i
			break
		}
	}
	if base < 0 {
		return v, ErrNoData
	}
	v.From = samples[base].Desired
	v.To = v.From
	seen := map[string]bool{}
	for _, s := range samples {
		v.Last = s.Elapsed
		for _, id := range s.Answering {
			seen[id] = true
		}
		if s.Err != "" {
			continue
		}
		if s.Desired > v.From && !v.DesiredRaised {
			v.DesiredRaised, v.DesiredAfter = true, s.Elapsed
		}
		if s.Desired <= v.From || s.InService <= v.From {
			continue
		}
		v.To = max(v.To, s.InService)
		if !v.ScaledOut {
			v.ScaledOut, v.After = true, s.Elapsed
		}
	}
	for id := range seen {
		v.Reached = append(v.Reached, id)
	}
	slices.Sort(v.Reached)
	return v, nil
}

// Done says the run can stop early: the group scaled out and traffic reached more instances than the
// group had at the start, which is what a person wants to see.
func (v Verdict) Done() bool { return v.ScaledOut && len(v.Reached) > v.From }

// String is the verdict line printed at the end of a run.
func (v Verdict) String() string {
	secs := func(d time.Duration) int { return int(d.Round(time.Second) / time.Second) }
	traffic := fmt.Sprintf("traffic reached %d instance%s", len(v.Reached), plural(len(v.Reached)))
	if len(v.Reached) > 0 {
		traffic += " [" + strings.Join(v.Reached, " ") + "]"
	}
	if !v.ScaledOut {
		desired := "desired capacity never rose"
		if v.DesiredRaised {
			desired = fmt.Sprintf("desired capacity rose after %d s but no new instance came in service", secs(v.DesiredAfter))
		}
		return fmt.Sprintf("FAIL: no scale-out within %d s from desired capacity %d (%s); %s",
			secs(v.Last), v.From, desired, traffic)
	}
	return fmt.Sprintf("PASS: scaled out from %d to %d instances in %d s (desired raised after %d s); %s",
		v.From, v.To, secs(v.After), secs(v.DesiredAfter), traffic)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func sortedUnique(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}
