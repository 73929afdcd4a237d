package timeline

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Replace is the verdict of a replace run, which made one instance (Victim) fail its health check. It
// passes only when all four hold:
//   - Unhealthy: the victim's target turned unhealthy in the target group;
//   - Terminated: a Terminating activity for the victim whose Cause is a failed ELB health check (not a
//     scale-in, a refresh or a person);
//   - Replaced: an instance that was not in the group at the start is InService and its target healthy;
//   - Answered: traffic kept being answered: every poll reached some instance through the ALB, and no
//     more requests failed than allowed (MaxFailed).
type Replace struct {
	Victim          string
	Unhealthy       bool
	UnhealthyAfter  time.Duration
	Terminated      bool
	TerminatedAfter time.Duration
	TerminateCause  string
	Replacement     string // the first new InService instance
	InServiceAfter  time.Duration
	Replaced        bool // the replacement's target is healthy too
	HealthyAfter    time.Duration
	Polls, Silent   int // polls; polls in which no instance answered through the ALB
	Failed          int // requests through the ALB that failed, over the whole run
	MaxFailed       int
	Last            time.Duration
}

var elbHealthCause = regexp.MustCompile(`(?i)\bELB\b.*health ?check`)

// JudgeReplace computes the verdict over the polls so far.
func JudgeReplace(samples []Sample, victim string, maxFailed int) (Replace, error) {
	v := Replace{Victim: victim, MaxFailed: maxFailed}
	base, err := baseline(samples)
	if err != nil {
		return v, err
	}
	before := map[string]bool{}
	for _, in := range samples[base].Instances {
		before[in.ID] = true
	}
	for _, s := range samples {
		v.Last = s.Elapsed
		v.Polls++
		v.Failed += s.Failed
		if len(s.Answering) == 0 {
			v.Silent++
		}
		for _, a := range s.Activities {
			if !v.Terminated && strings.HasPrefix(a.Description, "Terminating EC2 instance: "+victim) && elbHealthCause.MatchString(a.Cause) {
				v.Terminated, v.TerminatedAfter, v.TerminateCause = true, s.Elapsed, a.Cause
			}
		}
		if s.Err != "" {
			continue
		}
		if in, ok := s.instance(victim); ok && in.Target == "unhealthy" && !v.Unhealthy {
			v.Unhealthy, v.UnhealthyAfter = true, s.Elapsed
		}
		for _, in := range s.Instances {
			if before[in.ID] || in.Lifecycle != "InService" {
				continue
			}
			if v.Replacement == "" {
				v.Replacement, v.InServiceAfter = in.ID, s.Elapsed
			}
			if in.ID == v.Replacement && in.Target == "healthy" && !v.Replaced {
				v.Replaced, v.HealthyAfter = true, s.Elapsed
			}
		}
	}
	return v, nil
}

// Answered is the traffic rule: the healthy instances kept answering while the victim was replaced.
func (v Replace) Answered() bool { return v.Silent == 0 && v.Failed <= v.MaxFailed }

// Passed is the verdict.
func (v Replace) Passed() bool { return v.Unhealthy && v.Terminated && v.Replaced && v.Answered() }

// Done says the run can stop: the replacement is complete (the traffic rule is judged on what was seen).
func (v Replace) Done() bool { return v.Unhealthy && v.Terminated && v.Replaced }

// String is the verdict line printed at the end of a run.
func (v Replace) String() string {
	traffic := fmt.Sprintf("%d poll%s, %d without any answer, %d failed request%s (at most %d allowed)",
		v.Polls, plural(v.Polls), v.Silent, v.Failed, plural(v.Failed), v.MaxFailed)
	if v.Passed() {
		return fmt.Sprintf("PASS: %s replaced: target unhealthy after %d s, terminated for failing ELB health checks after %d s, "+
			"replacement %s in service after %d s and healthy after %d s; traffic answered throughout (%s)",
			v.Victim, secs(v.UnhealthyAfter), secs(v.TerminatedAfter), v.Replacement, secs(v.InServiceAfter), secs(v.HealthyAfter), traffic)
	}
	var missing []string
	if !v.Unhealthy {
		missing = append(missing, "its target never showed unhealthy")
	}
	if !v.Terminated {
		missing = append(missing, "no activity terminated it for failing an ELB health check")
	}
	switch {
	case v.Replacement == "":
		missing = append(missing, "no new instance came in service")
	case !v.Replaced:
		missing = append(missing, fmt.Sprintf("replacement %s in service after %d s but its target never healthy", v.Replacement, secs(v.InServiceAfter)))
	}
	if !v.Answered() {
		missing = append(missing, "traffic was not answered throughout")
	}
	return fmt.Sprintf("FAIL: %s not proven replaced within %d s: %s (%s)", v.Victim, secs(v.Last), strings.Join(missing, "; "), traffic)
}
