package verdict

import (
	"strings"
	"testing"
	"time"

	"github.com/scaleapp/scaleapp/scripts/lab/load"
	"github.com/scaleapp/scaleapp/scripts/lab/timeline"
)

var (
	t0    = time.Unix(1_000_000, 0)
	check = Check{Inter: time.Second, Timeout: 400 * time.Millisecond, Rise: 2, Fall: 2, Drain: 3 * time.Second}
)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func mark(s float64, label, server string) timeline.Event {
	return timeline.Event{T: at(s), Kind: timeline.Mark, Label: label, Server: server}
}

func state(s float64, server, from, to string) timeline.Event {
	return timeline.Event{T: at(s), Kind: timeline.State, Server: server, From: from, To: to}
}

func checked(s float64, server string, ms, chkfail int) timeline.Event {
	return timeline.Event{T: at(s), Kind: timeline.Check, Server: server, CheckMS: ms, ChkFail: chkfail}
}

// fleet: three servers that came UP before the scenario.
func fleet() []timeline.Event {
	return []timeline.Event{state(-10, "a", "", "UP"), state(-10, "b", "", "UP"), state(-10, "c", "", "UP")}
}

// answers: one request every 10 ms from `from` to `to` seconds, answered round robin by ids; failed
// lists the offsets (in seconds, to the request) that got a 502 instead.
func answers(from, to float64, ids []string, failed ...float64) []load.Result {
	var out []load.Result
	first, last := int(from*100+0.5), int(to*100+0.5)
	for i := first; i < last; i++ {
		s := float64(i) / 100
		r := load.Result{T: at(s), Code: 200, Instance: ids[(i-first)%len(ids)], Latency: time.Millisecond}
		for _, f := range failed {
			if int(f*100+0.5) == i {
				r = load.Result{T: at(s), Code: 502, Error: "502 Bad Gateway", Latency: 9 * time.Second}
			}
		}
		out = append(out, r)
	}
	return out
}

func report(rs []load.Result) load.Report {
	r := load.Report{Requests: len(rs), StatusCodes: map[string]int{}}
	for _, x := range rs {
		if x.OK() {
			r.StatusCodes["200"]++
		} else {
			r.StatusCodes["502"]++
		}
	}
	return r
}

func run(name string, results []load.Result, events ...timeline.Event) Run {
	ev := append(fleet(), mark(0, "begin", name))
	ev = append(ev, events...)
	ev = append(ev, mark(20, "end", name))
	return Run{Scenario: name, Events: ev, Results: results, Report: report(results), Check: check}
}

func TestJudge(t *testing.T) {
	abc := []string{"a", "b", "c"}
	cases := []struct {
		name string
		run  Run
		fail string // "" must pass; else a part of the reason
	}{
		{"spread", run("spread", answers(0, 5, abc)), ""},
		{"spread: an instance in rotation answers nothing", run("spread", answers(0, 5, []string{"a", "b"})), "c is in rotation but answered no request"},
		{"spread: a failed request", run("spread", answers(0, 5, abc, 2)), "1 of 500 requests failed"},
		{"spread: an unknown instance answers", run("spread", answers(0, 5, []string{"a", "b", "c", "x"})), "x answered but is not a server"},

		{"injected failure", run("injected-failure", answers(0, 8, abc),
			mark(1, "inject", "b"), state(2, "b", "UP", "UP 1/2"), state(3, "b", "UP 1/2", "DOWN"),
			mark(4, "clear", "b"), state(5, "b", "DOWN", "DOWN 1/2"), state(6, "b", "DOWN 1/2", "UP")), ""},
		{"injected failure: out too late", run("injected-failure", answers(0, 8, abc),
			mark(1, "inject", "b"), state(4.5, "b", "UP 1/2", "DOWN"), mark(5, "clear", "b"), state(6, "b", "DOWN", "UP")), "out of rotation took 3.5 s, limit 3.3 s"},
		{"injected failure: never out", run("injected-failure", answers(0, 8, abc),
			mark(1, "inject", "b"), mark(5, "clear", "b")), "b never left rotation"},
		{"injected failure: a failed request", run("injected-failure", answers(0, 8, abc, 2),
			mark(1, "inject", "b"), state(3, "b", "UP 1/2", "DOWN"), mark(4, "clear", "b"), state(6, "b", "DOWN", "UP")), "1 of 800 requests failed"},

		{"frozen: failures are reported, not a fail", run("frozen", answers(0, 15, abc, 1.5, 1.6),
			mark(1, "freeze", "b"), state(3, "b", "UP 1/2", "DOWN"), mark(11, "restarted", "b"), state(13, "b", "DOWN 1/2", "UP")), ""},
		{"frozen: restarted before HAProxy pulled it", run("frozen", answers(0, 15, abc),
			mark(1, "freeze", "b"), state(6, "b", "UP", "UP 1/2"), mark(10, "restarted", "b"), state(11, "b", "UP 1/2", "UP")), ""},
		{"frozen: no watchdog restart", run("frozen", answers(0, 15, abc),
			mark(1, "freeze", "b"), state(3, "b", "UP 1/2", "DOWN"), state(13, "b", "DOWN 1/2", "UP")), `want one "restarted" mark`},
		{"frozen: never back", run("frozen", answers(0, 15, abc),
			mark(1, "freeze", "b"), state(3, "b", "UP 1/2", "DOWN"), mark(11, "restarted", "b")), "b is not in rotation after the watchdog restart"},
		{"frozen: back but silent", run("frozen", answers(0, 15, []string{"a", "c"}),
			mark(1, "freeze", "b"), state(3, "b", "UP 1/2", "DOWN"), mark(11, "restarted", "b"), state(13, "b", "DOWN 1/2", "UP")), "b answered no request after"},
		{"frozen: pulled too late", run("frozen", answers(0, 15, abc),
			mark(1, "freeze", "b"), state(5, "b", "UP 1/2", "DOWN"), mark(11, "restarted", "b"), state(13, "b", "DOWN 1/2", "UP")), "out of rotation took 4.0 s, limit 3.3 s"},

		{"rolling refresh", run("rolling-refresh", answers(0, 19, abc),
			mark(1, "launch", "d"), state(2, "d", "", "DOWN (weight 0)"), state(4, "d", "UP (weight 0)", "UP"),
			state(4.1, "a", "UP", "DRAIN"), mark(4.1, "deregister", "a"), state(7, "a", "DRAIN", "gone")), ""},
		{"rolling refresh: a failed request", run("rolling-refresh", answers(0, 19, abc, 7),
			mark(1, "launch", "d"), state(4, "d", "UP (weight 0)", "UP"), mark(4.1, "deregister", "a"), state(7, "a", "DRAIN", "gone")), "1 of 1900 requests failed"},
		{"rolling refresh: old one still in rotation", run("rolling-refresh", answers(0, 19, abc),
			mark(1, "launch", "d"), state(4, "d", "UP (weight 0)", "UP"), mark(4.1, "deregister", "a")), "a is still in rotation"},
		{"rolling refresh: replacement never in rotation", run("rolling-refresh", answers(0, 19, abc),
			mark(1, "launch", "d"), state(2, "d", "", "UP (weight 0)"), mark(4.1, "deregister", "a"), state(7, "a", "DRAIN", "gone")), "replacement d never entered rotation"},

		{"scale-in", run("scale-in", answers(0, 6, abc), mark(1, "stop", "a"), state(3, "a", "UP 1/2", "DOWN"), mark(4.1, "stopped", "a")), ""},
		{"scale-in: out only after the drain", run("scale-in", answers(0, 6, abc), mark(1, "stop", "a"), state(4.5, "a", "UP 1/2", "DOWN")), "not within the drain delay"},
		{"scale-in: requests lost", run("scale-in", answers(0, 6, abc, 4.2), mark(1, "stop", "a"), state(3, "a", "UP 1/2", "DOWN")), "1 of 600 requests failed"},

		{"scale-out", run("scale-out", append(answers(0, 3.5, abc), answers(3.5, 8, []string{"a", "b", "c", "d"})...),
			mark(1, "boot", "d"), mark(2, "healthy", "d"), state(3.5, "d", "UP (weight 0)", "UP")), ""},
		{"scale-out: traffic too late", run("scale-out", append(answers(0, 5, abc), answers(5, 8, []string{"a", "b", "c", "d"})...),
			mark(1, "boot", "d"), mark(1.5, "healthy", "d")), "boot to first answer took 4.0 s, limit 3.8 s"},
		{"scale-out: never answers", run("scale-out", answers(0, 8, abc), mark(1, "boot", "d"), mark(2, "healthy", "d")), "d answered no request"},

		{"cpu spike", run("cpu-spike", answers(0, 12, abc), checked(1, "a", 1, 0), checked(2, "a", 2, 0),
			mark(3, "cpu-start", ""), checked(4, "a", 30, 0), checked(5, "b", 12, 0), mark(10, "cpu-end", "")), ""},
		{"cpu spike: an instance pulled", run("cpu-spike", answers(0, 12, abc), checked(1, "a", 1, 0),
			mark(3, "cpu-start", ""), checked(4, "a", 30, 0), state(6, "a", "UP", "UP 1/2"), mark(10, "cpu-end", "")), "a changed state during the spike"},
		{"cpu spike: a check failed", run("cpu-spike", answers(0, 12, abc), checked(1, "a", 1, 0),
			mark(3, "cpu-start", ""), checked(4, "a", 2000, 1), mark(10, "cpu-end", "")), "a: a health check failed"},

		{"unknown scenario", run("dance", answers(0, 1, abc)), `unknown scenario "dance"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			row, why := Judge(c.run)
			reasons := strings.Join(why, "; ")
			switch {
			case c.fail == "" && !row.Pass:
				t.Fatalf("failed: %s", reasons)
			case c.fail != "" && row.Pass:
				t.Fatalf("passed, want a failure with %q (row %+v)", c.fail, row)
			case c.fail != "" && !strings.Contains(reasons, c.fail):
				t.Fatalf("reasons %q, want %q", reasons, c.fail)
			}
			if row.Requests != c.run.Report.Requests {
				t.Errorf("row requests %d, report %d", row.Requests, c.run.Report.Requests)
			}
		})
	}
}

// The figures the summary shows come from what was measured.
func TestJudgeFigures(t *testing.T) {
	abc := []string{"a", "b", "c"}
	row, _ := Judge(run("injected-failure", answers(0, 8, abc),
		mark(1, "inject", "b"), state(3.1, "b", "UP 1/2", "DOWN"), mark(4, "clear", "b"), state(5.7, "b", "DOWN 1/2", "UP")))
	if row.Out != "2.1 s (limit 3.3 s)" || row.In != "1.7 s (limit 3.3 s)" {
		t.Errorf("out %q, in %q", row.Out, row.In)
	}
	row, _ = Judge(run("frozen", answers(0, 15, abc, 1.5, 1.6),
		mark(1, "freeze", "b"), state(3, "b", "UP 1/2", "DOWN"), mark(11, "restarted", "b"), state(13, "b", "DOWN 1/2", "UP")))
	if row.Failed != 2 || row.Out != "2.0 s (limit 3.3 s)" || row.In != "12.0 s after SIGSTOP" ||
		row.Note != "watchdog restart 10.0 s after SIGSTOP; 2 failed (502 x2): sent +0.5..+0.6 s after SIGSTOP, answered +9.5..+9.6 s" {
		t.Errorf("frozen row %+v", row)
	}
	row, _ = Judge(run("spread", answers(0, 3, abc)))
	if row.Note != "answers by instance: a 100, b 100, c 100" {
		t.Errorf("spread note %q", row.Note)
	}
	row, _ = Judge(run("cpu-spike", answers(0, 12, abc), checked(1, "a", 3, 0), mark(3, "cpu-start", ""),
		checked(4, "a", 30, 0), checked(5, "b", 12, 0), checked(6, "c", 20, 0), mark(10, "cpu-end", "")))
	if !strings.Contains(row.Note, "max 30 ms, median 20 ms (3 samples); before it: max 3 ms") {
		t.Errorf("cpu note %q", row.Note)
	}
}

func TestTable(t *testing.T) {
	out := Table([]Row{{Scenario: "spread", Requests: 10, Failed: 0, Out: "-", In: "-", Pass: true, Note: "n"},
		{Scenario: "frozen", Requests: 20, Failed: 3, Out: "1 s", In: "2 s", Pass: false}})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.Contains(lines[2], "| spread ") || !strings.Contains(lines[2], "PASS") || !strings.Contains(lines[3], "FAIL") {
		t.Errorf("table:\n%s", out)
	}
}
