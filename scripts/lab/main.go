// Command lab is the measuring side of the fleet lab (scripts/lab.sh boots the instances and acts):
//
//	lab ctl -socket S [-want TEXT] COMMAND...   one HAProxy runtime API command; fails unless the answer is TEXT
//	lab status -socket S SERVER                 the server's state (UP, DOWN 1/2, MAINT, "UP (weight 0)"...)
//	lab watch -socket S -out FILE               poll HAProxy's `show stat` until SIGTERM, writing state changes
//	lab report -scenario NAME ...               the scenario's timeline and verdict; appends its summary row
//	lab summary -rows FILE                      the summary table; exit 1 when a scenario failed
//
// Every request count comes from the load generator (vegeta's report and results), every rotation
// change from HAProxy itself; the lab only adds the marks of what it did and when.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/scaleapp/scaleapp/scripts/lab/haproxy"
	"github.com/scaleapp/scaleapp/scripts/lab/load"
	"github.com/scaleapp/scaleapp/scripts/lab/timeline"
	"github.com/scaleapp/scaleapp/scripts/lab/verdict"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: lab ctl|status|watch|report|summary [flags]")
		os.Exit(2)
	}
	cmds := map[string]func([]string, io.Writer) error{"ctl": ctl, "status": status, "watch": watch, "report": report, "summary": summary}
	run, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "lab: unknown command %q (ctl, status, watch, report, summary)\n", os.Args[1])
		os.Exit(2)
	}
	if err := run(os.Args[2:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "lab %s: %v\n", os.Args[1], err)
		if errors.Is(err, flag.ErrHelp) || errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("bad usage")

func ctl(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("ctl", flag.ContinueOnError)
	socket := fs.String("socket", "", "HAProxy's stats socket (admin level)")
	want := fs.String("want", "", "the answer that means success (default: an empty answer)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *socket == "" || fs.NArg() == 0 {
		return fmt.Errorf("%w: -socket and a command are required", errUsage)
	}
	cmd := strings.Join(fs.Args(), " ")
	ans, err := haproxy.Command(*socket, cmd)
	if err != nil {
		return err
	}
	if strings.TrimSpace(ans) != *want {
		return fmt.Errorf("%q answered %q, want %q", cmd, strings.TrimSpace(ans), *want)
	}
	return nil
}

func status(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	socket := fs.String("socket", "", "HAProxy's stats socket")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *socket == "" || fs.NArg() != 1 {
		return fmt.Errorf("%w: -socket and one server name are required", errUsage)
	}
	ans, err := haproxy.Command(*socket, "show stat -1 4 -1")
	if err != nil {
		return err
	}
	servers, err := haproxy.ParseStat(ans)
	if err != nil {
		return err
	}
	for _, s := range servers {
		if s.Name == fs.Arg(0) {
			_, err := fmt.Fprintln(out, s.State())
			return err
		}
	}
	return fmt.Errorf("no server %q", fs.Arg(0))
}

func watch(args []string, _ io.Writer) error {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	socket := fs.String("socket", "", "HAProxy's stats socket")
	outPath := fs.String("out", "", "JSON lines file to append the events to")
	every := fs.Duration("every", 100*time.Millisecond, "poll interval")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *socket == "" || *outPath == "" || *every <= 0 {
		return fmt.Errorf("%w: -socket and -out are required, -every > 0", errUsage)
	}
	f, err := os.OpenFile(*outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	enc := json.NewEncoder(f)
	var d timeline.Differ
	tick := time.NewTicker(*every)
	defer tick.Stop()
	for {
		ans, err := haproxy.Command(*socket, "show stat -1 4 -1") // every proxy, servers only
		if err != nil {
			return fmt.Errorf("poll: %w", err)
		}
		servers, err := haproxy.ParseStat(ans)
		if err != nil {
			return err
		}
		for _, e := range d.Diff(time.Now(), servers) {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func report(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	var (
		run                             verdict.Run
		events, marks, results, vreport string
		rows                            string
	)
	fs.StringVar(&run.Scenario, "scenario", "", "one of: "+strings.Join(verdict.Names, ", "))
	fs.StringVar(&events, "events", "", "the watcher's events (JSON lines)")
	fs.StringVar(&marks, "marks", "", "the lab's marks")
	fs.StringVar(&results, "results", "", "vegeta encode --to json of the scenario's results")
	fs.StringVar(&vreport, "vegeta-report", "", "vegeta report -type=json of the same results")
	fs.StringVar(&rows, "rows", "", "JSON lines file the summary row is appended to")
	fs.StringVar(&run.Note, "note", "", "what the lab measured itself, shown in the row")
	fs.DurationVar(&run.Check.Inter, "inter", 0, "health check interval")
	fs.DurationVar(&run.Check.Timeout, "timeout", 0, "health check timeout")
	fs.IntVar(&run.Check.Rise, "rise", 0, "healthy threshold")
	fs.IntVar(&run.Check.Fall, "fall", 0, "unhealthy threshold")
	fs.DurationVar(&run.Check.Drain, "drain", 0, "the service's DRAIN_DELAY")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if run.Scenario == "" || events == "" || marks == "" || results == "" || vreport == "" || rows == "" ||
		run.Check.Inter <= 0 || run.Check.Timeout <= 0 || run.Check.Rise < 1 || run.Check.Fall < 1 || run.Check.Drain < 0 {
		return fmt.Errorf("%w: every flag is required (see -h)", errUsage)
	}
	ev, err := timeline.ReadEvents(events)
	if err != nil {
		return err
	}
	mk, err := timeline.ReadMarks(marks)
	if err != nil {
		return err
	}
	run.Events = append(ev, mk...)
	slices.SortStableFunc(run.Events, func(a, b timeline.Event) int { return a.T.Compare(b.T) })
	if run.Results, err = load.ReadResults(results); err != nil {
		return err
	}
	if run.Report, err = load.ReadReport(vreport); err != nil {
		return err
	}
	row, why := verdict.Judge(run)
	printTimeline(out, run)
	v := "PASS"
	if !row.Pass {
		v = "FAIL: " + strings.Join(why, "; ")
	}
	fmt.Fprintf(out, "  %s: %d requests, %d failed (vegeta), out of rotation %s, in rotation %s -> %s\n",
		row.Scenario, row.Requests, row.Failed, row.Out, row.In, v)
	if row.Note != "" {
		fmt.Fprintf(out, "    %s\n", row.Note)
	}
	f, err := os.OpenFile(rows, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	return json.NewEncoder(f).Encode(row)
}

// printTimeline interleaves the scenario's marks, HAProxy state changes and failed checks with one
// load line per second.
func printTimeline(out io.Writer, run verdict.Run) {
	var start, end time.Time
	for _, e := range run.Events {
		if e.Kind == timeline.Mark && e.Server == run.Scenario {
			if e.Label == "begin" {
				start = e.T
			} else if e.Label == "end" {
				end = e.T
			}
		}
	}
	if start.IsZero() || end.IsZero() {
		return
	}
	type line struct {
		t    time.Time
		text string
	}
	var lines []line
	failed := map[string]int{}
	for _, e := range run.Events {
		prev, seen := failed[e.Server]
		if e.Kind != timeline.Mark {
			failed[e.Server] = e.ChkFail
		}
		if e.T.Before(start) || e.T.After(end) || (e.Kind == timeline.Mark && e.Server == run.Scenario) {
			continue
		}
		if e.Kind == timeline.Check && !(seen && e.ChkFail > prev) {
			continue // a passing check: its duration goes into the verdict, not the timeline
		}
		lines = append(lines, line{e.T, e.Line(start)})
	}
	ids := load.Instances(run.Results)
	for _, s := range load.PerSecond(run.Results, start) {
		lines = append(lines, line{start.Add(time.Duration(s.Offset) * time.Second), s.Line(ids)})
	}
	slices.SortStableFunc(lines, func(a, b line) int { return a.t.Compare(b.t) })
	w := bufio.NewWriter(out)
	for _, l := range lines {
		fmt.Fprintf(w, "    %s\n", l.text)
	}
	w.Flush()
}

func summary(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("summary", flag.ContinueOnError)
	rowsPath := fs.String("rows", "", "the JSON lines the reports appended")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rowsPath == "" {
		return fmt.Errorf("%w: -rows is required", errUsage)
	}
	b, err := os.ReadFile(*rowsPath)
	if err != nil {
		return err
	}
	var rows []verdict.Row
	dec := json.NewDecoder(strings.NewReader(string(b)))
	for {
		var r verdict.Row
		if err := dec.Decode(&r); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("%s: %w", *rowsPath, err)
		}
		rows = append(rows, r)
	}
	fmt.Fprint(out, verdict.Table(rows))
	var failed []string
	for _, r := range rows {
		if !r.Pass {
			failed = append(failed, r.Scenario)
		}
	}
	if len(rows) == 0 {
		return errors.New("no scenario ran")
	}
	if len(failed) > 0 {
		return fmt.Errorf("failed: %s", strings.Join(failed, ", "))
	}
	return nil
}
