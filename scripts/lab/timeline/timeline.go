// Package timeline holds what happened during a lab run, in one time order: the lab's own actions
// (marks written by scripts/lab.sh) and what HAProxy did (server state changes and health check
// durations seen by polling its stats socket).
package timeline

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/scaleapp/scaleapp/scripts/lab/haproxy"
)

// Kinds of events.
const (
	Mark  = "mark"  // an action of the lab: "inject lab1n2", "boot lab1n4"...
	State = "state" // a server's HAProxy status changed
	Check = "check" // a new health check duration (or failed-check count) was seen
)

// Event is one line of the timeline.
type Event struct {
	T       time.Time `json:"t"`
	Kind    string    `json:"kind"`
	Server  string    `json:"server,omitempty"`
	Label   string    `json:"label,omitempty"` // marks: what the lab did
	From    string    `json:"from,omitempty"`  // state: the status before ("" when the server was added)
	To      string    `json:"to,omitempty"`    // state: the status after ("gone" when it was deleted)
	Check   string    `json:"check,omitempty"` // the last check's result, e.g. "L7STS 503"
	CheckMS int       `json:"check_ms"`
	ChkFail int       `json:"chkfail"`
}

// Differ turns successive `show stat` snapshots into events.
type Differ struct{ last map[string]haproxy.Server }

// Diff returns the events between the previous snapshot and this one, taken at t.
func (d *Differ) Diff(t time.Time, servers []haproxy.Server) []Event {
	var out []Event
	seen := map[string]bool{}
	for _, s := range servers {
		seen[s.Name] = true
		prev, known := d.last[s.Name]
		check := strings.TrimSpace(s.CheckStatus + " " + s.CheckCode)
		if !known || prev.State() != s.State() {
			from := prev.State()
			if !known {
				from = ""
			}
			out = append(out, Event{T: t, Kind: State, Server: s.Name, From: from, To: s.State(),
				Check: check, CheckMS: s.CheckMS, ChkFail: s.ChkFail})
		} else if prev.CheckMS != s.CheckMS || prev.ChkFail != s.ChkFail {
			out = append(out, Event{T: t, Kind: Check, Server: s.Name, Check: check, CheckMS: s.CheckMS, ChkFail: s.ChkFail})
		}
	}
	for name, prev := range d.last {
		if !seen[name] {
			out = append(out, Event{T: t, Kind: State, Server: name, From: prev.State(), To: "gone"})
		}
	}
	if d.last == nil {
		d.last = map[string]haproxy.Server{}
	}
	clear(d.last)
	for _, s := range servers {
		d.last[s.Name] = s
	}
	return out
}

// ReadEvents reads the JSON lines the watcher wrote.
func ReadEvents(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Event
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// ReadMarks reads the lab's marks: one "UNIX-NANOSECONDS LABEL [SERVER]" per line.
func ReadMarks(path string) ([]Event, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Event
	for n, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || len(f) > 3 {
			return nil, fmt.Errorf("%s:%d: want 'NANOSECONDS LABEL [SERVER]', got %q", path, n+1, line)
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n+1, err)
		}
		e := Event{T: time.Unix(0, ns), Kind: Mark, Label: f[1]}
		if len(f) == 3 {
			e.Server = f[2]
		}
		out = append(out, e)
	}
	return out, nil
}

// Line is how an event reads in the timeline, at its offset from the scenario's start.
func (e Event) Line(start time.Time) string {
	at := fmt.Sprintf("%+7.2fs", e.T.Sub(start).Seconds())
	switch e.Kind {
	case Mark:
		return strings.TrimRight(fmt.Sprintf("%s  lab      %s %s", at, e.Label, e.Server), " ")
	case State:
		from := e.From
		if from == "" {
			from = "(added)"
		}
		s := fmt.Sprintf("%s  haproxy  %s: %s -> %s", at, e.Server, from, e.To)
		if e.Check != "" && e.To != "gone" {
			s += fmt.Sprintf(" (last check %s, %d ms)", e.Check, e.CheckMS)
		}
		return s
	}
	return fmt.Sprintf("%s  haproxy  %s: check %s, %d ms", at, e.Server, e.Check, e.CheckMS)
}
