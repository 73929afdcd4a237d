// Package verdict judges each lab scenario from what was measured: the load generator's counts, the
// HAProxy state changes and the lab's own marks. It holds no I/O, so every rule is tested with tables.
package verdict

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/scaleapp/scaleapp/scripts/lab/haproxy"
	"github.com/scaleapp/scaleapp/scripts/lab/load"
	"github.com/scaleapp/scaleapp/scripts/lab/timeline"
)

// Check is the load balancer's health check and the service's drain, as the lab ran them (the
// contract's values divided by the lab's time scale).
type Check struct {
	Inter, Timeout time.Duration
	Rise, Fall     int
	Drain          time.Duration // the env file's DRAIN_DELAY
}

// OutLimit bounds the time from a failing /health to the server leaving rotation. HAProxy starts the
// next check `inter` after the previous one ended, and a check lasts up to `timeout`: fall checks
// then take at most fall x (inter + timeout). The ALB's figure is the same: threshold x interval,
// plus the timeout of the last check. Half an interval more covers the 100 ms polling of the stats
// and HAProxy's timers on a busy 2-core host (seen: 2.8 s for a 2.8 s bound).
func (c Check) OutLimit() time.Duration {
	return time.Duration(c.Fall)*(c.Inter+c.Timeout) + c.Inter/2
}

// InLimit bounds the time from a healthy /health to the server entering rotation, likewise.
func (c Check) InLimit() time.Duration { return time.Duration(c.Rise)*(c.Inter+c.Timeout) + c.Inter/2 }

// Run is one scenario's measurements.
type Run struct {
	Scenario string
	Events   []timeline.Event // every event of the lab run (marks and HAProxy), in time order
	Results  []load.Result    // this scenario's requests
	Report   load.Report      // vegeta's report of the same requests
	Check    Check
	Note     string // what the lab measured itself (e.g. the host's CPU during the spike)
}

// Row is a line of the summary table.
type Row struct {
	Scenario string `json:"scenario"`
	Requests int    `json:"requests"`
	Failed   int    `json:"failed"`
	Out      string `json:"out"` // time to out of rotation
	In       string `json:"in"`  // time to (back) in rotation
	Pass     bool   `json:"pass"`
	Note     string `json:"note"`
}

// Judge applies the scenario's rules. It returns the row and, when the scenario failed, why.
func Judge(r Run) (Row, []string) {
	j := judge{Run: r, row: Row{Scenario: r.Scenario, Requests: r.Report.Requests, Failed: r.Report.Failed(), Out: "-", In: "-"}}
	j.start, j.end = j.window()
	if j.start.IsZero() || j.end.IsZero() {
		j.fail("no 'begin %s' and 'end %s' marks", r.Scenario, r.Scenario)
	} else if r.Report.Requests == 0 {
		j.fail("the load generator sent no request")
	} else if len(r.Results) != r.Report.Requests {
		j.fail("vegeta's report counts %d requests, its results hold %d", r.Report.Requests, len(r.Results))
	} else {
		rules, ok := scenarios[r.Scenario]
		if !ok {
			j.fail("unknown scenario %q", r.Scenario)
		} else {
			rules(&j)
		}
	}
	j.row.Pass = len(j.why) == 0
	j.row.Note = strings.TrimSpace(strings.Join(append(j.notes, r.Note), "; "))
	j.row.Note = strings.Trim(j.row.Note, "; ")
	return j.row, j.why
}

// Names lists the scenarios in the order the lab runs them.
var Names = []string{"spread", "injected-failure", "frozen", "rolling-refresh", "scale-in", "scale-out", "cpu-spike"}

var scenarios = map[string]func(*judge){
	"spread":           spread,
	"injected-failure": injectedFailure,
	"frozen":           frozen,
	"rolling-refresh":  rollingRefresh,
	"scale-in":         scaleIn,
	"scale-out":        scaleOut,
	"cpu-spike":        cpuSpike,
}

type judge struct {
	Run
	start, end time.Time
	row        Row
	why, notes []string
}

func (j *judge) fail(format string, a ...any) { j.why = append(j.why, fmt.Sprintf(format, a...)) }
func (j *judge) note(format string, a ...any) { j.notes = append(j.notes, fmt.Sprintf(format, a...)) }

func (j *judge) zeroFailures() {
	if f := j.row.Failed; f > 0 {
		j.fail("%d of %d requests failed (vegeta: status codes %v, errors %q)", f, j.row.Requests, j.Report.StatusCodes, j.Report.Errors)
	}
}

func (j *judge) window() (start, end time.Time) {
	for _, e := range j.Events {
		if e.Kind == timeline.Mark && e.Server == j.Scenario {
			switch e.Label {
			case "begin":
				start = e.T
			case "end":
				end = e.T
			}
		}
	}
	return start, end
}

// marks returns this scenario's marks with the label.
func (j *judge) marks(label string) []timeline.Event {
	var out []timeline.Event
	for _, e := range j.Events {
		if e.Kind == timeline.Mark && e.Label == label && !e.T.Before(j.start) && !e.T.After(j.end) {
			out = append(out, e)
		}
	}
	return out
}

func (j *judge) mark(label string) (timeline.Event, bool) {
	m := j.marks(label)
	if len(m) != 1 {
		j.fail("want one %q mark, found %d", label, len(m))
		return timeline.Event{}, false
	}
	return m[0], true
}

// change finds the server's first state change after t (before the scenario's end) that takes it
// out of rotation (in = false) or into rotation (in = true).
func (j *judge) change(server string, t time.Time, in bool) (time.Time, bool) {
	for _, e := range j.Events {
		if e.Kind != timeline.State || e.Server != server || e.T.Before(t) || e.T.After(j.end) {
			continue
		}
		if haproxy.InRotation(e.To) == in && haproxy.InRotation(e.From) != in {
			return e.T, true
		}
	}
	return time.Time{}, false
}

// rotation says which servers were in rotation at t, from every state change before it.
func (j *judge) rotation(t time.Time) []string {
	status := map[string]string{}
	for _, e := range j.Events {
		if e.Kind == timeline.State && !e.T.After(t) {
			status[e.Server] = e.To
		}
	}
	var out []string
	for s, st := range status {
		if haproxy.InRotation(st) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// within formats a measured delay and its limit, and fails the scenario when it is over.
func (j *judge) within(what string, d, limit time.Duration) string {
	if d > limit {
		j.fail("%s took %s, limit %s", what, secs(d), secs(limit))
	}
	return fmt.Sprintf("%s (limit %s)", secs(d), secs(limit))
}

// spread: every instance in rotation answered, none failed.
func spread(j *judge) {
	j.zeroFailures()
	members := j.rotation(j.start)
	if len(members) < 2 {
		j.fail("only %d instance(s) in rotation at the start: %v", len(members), members)
	}
	counts := map[string]int{}
	for _, r := range j.Results {
		if r.OK() {
			counts[r.Instance]++
		}
	}
	var parts []string
	for _, m := range members {
		if counts[m] == 0 {
			j.fail("%s is in rotation but answered no request", m)
		}
		parts = append(parts, fmt.Sprintf("%s %d", m, counts[m]))
	}
	for id := range counts {
		if !slices.Contains(members, id) {
			j.fail("%s answered but is not a server in rotation (instance ids must match HAProxy's server names)", id)
		}
	}
	j.note("answers by instance: %s", strings.Join(parts, ", "))
}

// injectedFailure: POST /health/fail takes the instance out within the check's limit with no failed
// request; after DELETE /health/fail it comes back within the rise limit.
func injectedFailure(j *judge) {
	j.zeroFailures()
	inj, ok1 := j.mark("inject")
	clr, ok2 := j.mark("clear")
	if !ok1 || !ok2 {
		return
	}
	if out, ok := j.change(inj.Server, inj.T, false); ok {
		j.row.Out = j.within("out of rotation", out.Sub(inj.T), j.Check.OutLimit())
	} else {
		j.fail("%s never left rotation after the injected failure", inj.Server)
	}
	if in, ok := j.change(clr.Server, clr.T, true); ok {
		j.row.In = j.within("back in rotation", in.Sub(clr.T), j.Check.InLimit())
	} else {
		j.fail("%s did not come back in rotation after the failure ended", clr.Server)
	}
}

// frozen: SIGSTOP; HAProxy pulls the instance and the watchdog restarts it, in whichever order the
// timers give (at real speed the watchdog, 10 s, may win over fall x (inter + timeout) = 14 s: then
// the instance is never pulled), and it ends in rotation, answering. The requests it held cost
// failures: they are reported, not required to be zero.
func frozen(j *judge) {
	frz, ok1 := j.mark("freeze")
	rst, ok2 := j.mark("restarted")
	if !ok1 || !ok2 {
		return
	}
	if out, ok := j.change(frz.Server, frz.T, false); ok {
		j.row.Out = j.within("out of rotation", out.Sub(frz.T), j.Check.OutLimit())
		if in, ok := j.change(frz.Server, out, true); ok {
			j.row.In = secs(in.Sub(frz.T)) + " after SIGSTOP"
		}
	} else {
		j.row.Out = fmt.Sprintf("not pulled: restarted first (%s)", secs(rst.T.Sub(frz.T)))
	}
	if !slices.Contains(j.rotation(j.end), frz.Server) {
		j.fail("%s is not in rotation after the watchdog restart", frz.Server)
	} else if load.First(j.Results, frz.Server, rst.T).IsZero() {
		j.fail("%s answered no request after the watchdog restart", frz.Server)
	}
	j.note("watchdog restart %s after SIGSTOP; %s", secs(rst.T.Sub(frz.T)), failures(j.Results, frz.T, "SIGSTOP"))
}

// failures describes the failed requests: their answers, when they were sent and when their answer
// came, relative to the mark at t.
func failures(results []load.Result, t time.Time, what string) string {
	codes := map[string]int{}
	var sentFirst, sentLast, doneFirst, doneLast time.Duration
	n := 0
	for _, r := range results {
		if r.OK() {
			continue
		}
		sent, done := r.T.Sub(t), r.T.Add(r.Latency).Sub(t)
		if n == 0 {
			sentFirst, sentLast, doneFirst, doneLast = sent, sent, done, done
		}
		sentFirst, sentLast = min(sentFirst, sent), max(sentLast, sent)
		doneFirst, doneLast = min(doneFirst, done), max(doneLast, done)
		n++
		what := r.Error
		if r.Code != 0 {
			what = fmt.Sprint(r.Code)
		}
		codes[what]++
	}
	if n == 0 {
		return "no request failed"
	}
	var parts []string
	for c, k := range codes {
		parts = append(parts, fmt.Sprintf("%s x%d", c, k))
	}
	slices.Sort(parts)
	return fmt.Sprintf("%d failed (%s): sent %+.1f..%+.1f s after %s, answered %+.1f..%+.1f s",
		n, strings.Join(parts, ", "), sentFirst.Seconds(), sentLast.Seconds(), what, doneFirst.Seconds(), doneLast.Seconds())
}

// rollingRefresh: each instance in turn replaced as an instance refresh does (launch, in rotation,
// deregister the old one, drain, terminate) with no failed request.
func rollingRefresh(j *judge) {
	j.zeroFailures()
	launches, deregs := j.marks("launch"), j.marks("deregister")
	if len(launches) == 0 || len(launches) != len(deregs) {
		j.fail("%d launches and %d deregistrations", len(launches), len(deregs))
		return
	}
	var worst time.Duration
	for _, l := range launches {
		in, ok := j.change(l.Server, l.T, true)
		if !ok {
			j.fail("replacement %s never entered rotation", l.Server)
			continue
		}
		worst = max(worst, in.Sub(l.T))
	}
	for _, d := range deregs {
		if slices.Contains(j.rotation(j.end), d.Server) {
			j.fail("%s is still in rotation after its deregistration", d.Server)
		}
	}
	j.row.Out = "deregistered (HAProxy drain)"
	j.row.In = "launch to in rotation <= " + secs(worst)
	j.note("%d instances replaced one at a time", len(launches))
}

// scaleIn: systemctl stop while the instance takes traffic; the service's drain (503 on /health,
// serving for DRAIN_DELAY) outlasts HAProxy's detection, so no request fails.
func scaleIn(j *judge) {
	j.zeroFailures()
	stop, ok := j.mark("stop")
	if !ok {
		return
	}
	out, ok := j.change(stop.Server, stop.T, false)
	if !ok {
		j.fail("%s never left rotation after systemctl stop", stop.Server)
		return
	}
	d := out.Sub(stop.T)
	if d >= j.Check.Drain {
		j.fail("out of rotation after %s: not within the drain delay %s", secs(d), secs(j.Check.Drain))
	}
	j.row.Out = fmt.Sprintf("%s (drain %s)", secs(d), secs(j.Check.Drain))
	if last := load.Last(j.Results, stop.Server); !last.IsZero() {
		j.note("last answer from %s %s after the stop", stop.Server, secs(last.Sub(stop.T)))
	}
}

// scaleOut: a new instance booted under load takes traffic within boot-to-healthy + rise checks.
func scaleOut(j *judge) {
	j.zeroFailures()
	boot, ok1 := j.mark("boot")
	healthy, ok2 := j.mark("healthy")
	if !ok1 || !ok2 {
		return
	}
	first := load.First(j.Results, boot.Server, boot.T)
	if first.IsZero() {
		j.fail("the new instance %s answered no request", boot.Server)
		return
	}
	b2h := healthy.T.Sub(boot.T)
	j.row.In = j.within("boot to first answer", first.Sub(boot.T), b2h+j.Check.InLimit())
	j.note("boot to /health UP %s + %d checks x (%s + %s)", secs(b2h), j.Check.Rise, j.Check.Inter, j.Check.Timeout)
}

// cpuSpike: every instance burns every core; none leaves rotation, no check fails, and HAProxy's
// check latency is reported against the same scenario's quiet seconds.
func cpuSpike(j *judge) {
	j.zeroFailures()
	from, ok1 := j.mark("cpu-start")
	to, ok2 := j.mark("cpu-end")
	if !ok1 || !ok2 {
		return
	}
	var idle, busy []int
	failedBefore := map[string]int{}
	for _, e := range j.Events {
		if e.Kind == timeline.Mark || e.T.Before(j.start) || e.T.After(j.end) {
			continue
		}
		during := !e.T.Before(from.T) && !e.T.After(to.T)
		if e.Kind == timeline.State && during {
			j.fail("%s changed state during the spike: %s -> %s (%s)", e.Server, e.From, e.To, e.Check)
		}
		if prev, seen := failedBefore[e.Server]; seen && e.ChkFail > prev && during {
			j.fail("%s: a health check failed during the spike (%s, %d ms)", e.Server, e.Check, e.CheckMS)
		}
		failedBefore[e.Server] = e.ChkFail
		if e.CheckMS >= 0 {
			if during {
				busy = append(busy, e.CheckMS)
			} else if e.T.Before(from.T) {
				idle = append(idle, e.CheckMS)
			}
		}
	}
	if len(busy) == 0 {
		j.fail("no health check duration seen during the spike")
		return
	}
	j.row.Out = "none pulled"
	j.note("HAProxy check duration during the spike: max %d ms, median %d ms (%d samples); before it: max %d ms",
		slices.Max(busy), median(busy), len(busy), maxOr(idle, 0))
}

func median(v []int) int {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func maxOr(v []int, def int) int {
	if len(v) == 0 {
		return def
	}
	return slices.Max(v)
}

// Table prints the summary rows.
func Table(rows []Row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| %-16s | %8s | %6s | %-26s | %-28s | %-7s | %s |\n", "scenario", "requests", "failed", "out of rotation", "in rotation", "verdict", "measured")
	fmt.Fprintf(&b, "|%s|%s|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 18), strings.Repeat("-", 10), strings.Repeat("-", 8),
		strings.Repeat("-", 28), strings.Repeat("-", 30), strings.Repeat("-", 9), strings.Repeat("-", 10))
	for _, r := range rows {
		v := "PASS"
		if !r.Pass {
			v = "FAIL"
		}
		fmt.Fprintf(&b, "| %-16s | %8d | %6d | %-26s | %-28s | %-7s | %s |\n", r.Scenario, r.Requests, r.Failed, r.Out, r.In, v, r.Note)
	}
	return b.String()
}
