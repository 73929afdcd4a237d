// Package timeline turns the polls of a scale test into the lines a person reads and the verdicts of
// its two modes (scale-out.go, replace.go). It holds no I/O and no clock, so every rule is tested with
// plain tables.
package timeline

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Activity is one Auto Scaling activity, as first seen by a poll.
type Activity struct {
	Status      string // e.g. Successful, InProgress, Failed
	Description string // e.g. "Launching a new EC2 instance: i-0123"
	Cause       string // AWS's explanation: which alarm, policy, user request or health check did it
}

// Instance is one member of the group, with its target's state in the target group.
type Instance struct {
	ID        string
	Lifecycle string // InService, Pending, Terminating...
	Health    string // the group's view: Healthy or Unhealthy
	Target    string // healthy, unhealthy, initial, draining...; "" when not a registered target
}

// Sample is one poll of the fleet and of the load balancer.
type Sample struct {
	Elapsed    time.Duration // since the test started
	Desired    int           // ASG desired capacity
	InService  int           // ASG instances in lifecycle state InService
	Healthy    int           // target group targets in state healthy
	Instances  []Instance    // the group's members
	Answering  []string      // distinct instance ids that answered through the ALB in this poll
	Failed     int           // requests through the ALB that got no answer from an instance
	Activities []Activity    // scaling activities first seen in this poll
	Err        string        // why the AWS side of this poll failed; its counts are unknown
	ProbeErr   string        // why sampling through the ALB failed (the ids that did answer are kept)
	Watch      string        // an instance the run follows (replace mode): its state goes on the line
}

// Line is the timeline line for one poll, then indented lines for each new scaling activity and its cause.
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
	if s.Watch != "" && s.Err == "" {
		if in, ok := s.instance(s.Watch); ok {
			fmt.Fprintf(&b, "\n        %s: %s/%s, target %s", in.ID, in.Lifecycle, in.Health, orNone(in.Target))
		} else {
			fmt.Fprintf(&b, "\n        %s: gone from the group", s.Watch)
		}
	}
	for _, a := range s.Activities {
		fmt.Fprintf(&b, "\n        activity: [%s] %s", a.Status, a.Description)
		if a.Cause != "" {
			fmt.Fprintf(&b, "\n          cause: %s", a.Cause)
		}
	}
	return b.String()
}

func (s Sample) instance(id string) (Instance, bool) {
	i := slices.IndexFunc(s.Instances, func(in Instance) bool { return in.ID == id })
	if i < 0 {
		return Instance{}, false
	}
	return s.Instances[i], true
}

func orNone(state string) string {
	if state == "" {
		return "not registered"
	}
	return state
}

// ErrNoData means no poll succeeded, so there is no baseline to compare with.
var ErrNoData = errors.New("no successful poll of the Auto Scaling group: nothing to judge")

// baseline is the index of the first poll that did not fail: the state the test started from.
func baseline(samples []Sample) (int, error) {
	i := slices.IndexFunc(samples, func(s Sample) bool { return s.Err == "" })
	if i < 0 {
		return 0, ErrNoData
	}
	return i, nil
}

func secs(d time.Duration) int { return int(d.Round(time.Second) / time.Second) }

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
