package timeline

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// ScaleOut is the verdict of a scale-out run. It passes only when all three hold:
//   - Caused: a launch activity that appeared after the stress began names one of this stack's scaling
//     policies or their alarms in its Cause (a manual set-desired-capacity or a scheduled action says
//     "a user request" or "a scheduled action" there instead);
//   - ScaledOut: one poll had desired capacity and in-service instances both above the baseline's
//     desired capacity (an instance refresh adds an instance without raising desired capacity);
//   - NewAnswered: an instance launched after the stress began (named by such a launch activity)
//     answered through the load balancer (an id seen at any time would count a replacement too).
type ScaleOut struct {
	From, To      int      // baseline desired capacity; most in-service seen in a scale-out poll
	Causes        []string // the policy and alarm names a Cause must mention
	Caused        bool
	CausedAfter   time.Duration
	Cause         string // the first matching activity's cause
	ScaledOut     bool
	After         time.Duration // first poll with desired and in-service above From
	DesiredRaised bool
	DesiredAfter  time.Duration
	Launched      []string // instances launched after the stress began
	NewAnswered   []string // of those, the ones that answered through the ALB
	AnsweredAfter time.Duration
	Reached       []string // every instance that answered
	Last          time.Duration
}

var launchedInstance = regexp.MustCompile(`^Launching a new EC2 instance: (i-[0-9A-Za-z]+)`)

// JudgeScaleOut computes the verdict over the polls so far. causes are this stack's policy and alarm
// names; activities in the samples are those first seen after the baseline poll (the stress had begun).
func JudgeScaleOut(samples []Sample, causes []string) (ScaleOut, error) {
	v := ScaleOut{Causes: causes}
	base, err := baseline(samples)
	if err != nil {
		return v, err
	}
	v.From = samples[base].Desired
	v.To = v.From
	launched, reached := map[string]bool{}, map[string]bool{}
	answered := map[string]bool{}
	for _, s := range samples {
		v.Last = s.Elapsed
		for _, a := range s.Activities {
			m := launchedInstance.FindStringSubmatch(a.Description)
			if m == nil {
				continue
			}
			if !launched[m[1]] {
				launched[m[1]] = true
				v.Launched = append(v.Launched, m[1])
			}
			if !v.Caused && namesOneOf(a.Cause, causes) {
				v.Caused, v.CausedAfter, v.Cause = true, s.Elapsed, a.Cause
			}
		}
		for _, id := range s.Answering {
			reached[id] = true
			if launched[id] && !answered[id] {
				answered[id] = true
				v.NewAnswered = append(v.NewAnswered, id)
				if len(v.NewAnswered) == 1 {
					v.AnsweredAfter = s.Elapsed
				}
			}
		}
		if s.Err != "" {
			continue
		}
		if s.Desired > v.From && !v.DesiredRaised {
			v.DesiredRaised, v.DesiredAfter = true, s.Elapsed
		}
		if s.Desired > v.From && s.InService > v.From {
			v.To = max(v.To, s.InService)
			if !v.ScaledOut {
				v.ScaledOut, v.After = true, s.Elapsed
			}
		}
	}
	for id := range reached {
		v.Reached = append(v.Reached, id)
	}
	slices.Sort(v.Reached)
	return v, nil
}

// namesOneOf reports whether an activity's cause mentions one of the names as a whole word.
func namesOneOf(cause string, names []string) bool {
	for _, n := range names {
		if n != "" && regexp.MustCompile(`(^|[^A-Za-z0-9_-])`+regexp.QuoteMeta(n)+`($|[^A-Za-z0-9_-])`).MatchString(cause) {
			return true
		}
	}
	return false
}

// Passed is the verdict: caused by this stack's scaling, capacity up, a new instance answering.
func (v ScaleOut) Passed() bool { return v.Caused && v.ScaledOut && len(v.NewAnswered) > 0 }

// Done says the run can stop: nothing left to prove.
func (v ScaleOut) Done() bool { return v.Passed() }

// String is the verdict line printed at the end of a run.
func (v ScaleOut) String() string {
	traffic := fmt.Sprintf("traffic reached %d instance%s", len(v.Reached), plural(len(v.Reached)))
	if len(v.Reached) > 0 {
		traffic += " [" + strings.Join(v.Reached, " ") + "]"
	}
	if v.Passed() {
		return fmt.Sprintf("PASS: scaled out from %d to %d instances: launch caused by this stack's scaling after %d s, "+
			"desired and in-service above %d after %d s, new instance%s [%s] answering through the ALB after %d s; %s",
			v.From, v.To, secs(v.CausedAfter), v.From, secs(v.After), plural(len(v.NewAnswered)),
			strings.Join(v.NewAnswered, " "), secs(v.AnsweredAfter), traffic)
	}
	var missing []string
	if !v.Caused {
		why := fmt.Sprintf("no launch activity whose cause names this stack's policies or alarms (%s)", strings.Join(v.Causes, ", "))
		if v.DesiredRaised {
			why += fmt.Sprintf("; desired capacity rose after %d s by something else", secs(v.DesiredAfter))
		}
		missing = append(missing, why)
	}
	if !v.ScaledOut {
		why := fmt.Sprintf("desired capacity and in-service never both above %d", v.From)
		if v.DesiredRaised {
			why = fmt.Sprintf("desired capacity rose after %d s but in-service never went above %d", secs(v.DesiredAfter), v.From)
		}
		missing = append(missing, why)
	}
	if len(v.NewAnswered) == 0 {
		why := "no instance launched after the stress began"
		if len(v.Launched) > 0 {
			why = "none of the instances launched after the stress began [" + strings.Join(v.Launched, " ") + "]"
		}
		missing = append(missing, why+" answered through the ALB")
	}
	return fmt.Sprintf("FAIL: no proven scale-out within %d s from desired capacity %d: %s; %s",
		secs(v.Last), v.From, strings.Join(missing, "; "), traffic)
}
