package timeline

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/scaleapp/scaleapp/scripts/lab/haproxy"
)

func TestDiffer(t *testing.T) {
	t0 := time.Unix(1000, 0)
	up := func(name string, ms, fail int) haproxy.Server {
		return haproxy.Server{Name: name, Status: "UP", Weight: 1, CheckStatus: "L7OK", CheckCode: "200", CheckMS: ms, ChkFail: fail}
	}
	var d Differ
	steps := []struct {
		servers []haproxy.Server
		want    []Event
	}{
		{[]haproxy.Server{up("a", 1, 0)}, []Event{{Kind: State, Server: "a", From: "", To: "UP", Check: "L7OK 200", CheckMS: 1}}},
		{[]haproxy.Server{up("a", 1, 0)}, nil}, // nothing changed: no event
		{[]haproxy.Server{up("a", 7, 0)}, []Event{{Kind: Check, Server: "a", Check: "L7OK 200", CheckMS: 7}}},
		{
			[]haproxy.Server{{Name: "a", Status: "UP 1/2", Weight: 1, CheckStatus: "L7STS", CheckCode: "503", CheckMS: 1, ChkFail: 1}, {Name: "b", Status: "DOWN", Weight: 0, CheckStatus: "INI", CheckMS: -1}},
			[]Event{
				{Kind: State, Server: "a", From: "UP", To: "UP 1/2", Check: "L7STS 503", CheckMS: 1, ChkFail: 1},
				{Kind: State, Server: "b", From: "", To: "DOWN (weight 0)", Check: "INI", CheckMS: -1},
			},
		},
		{[]haproxy.Server{{Name: "b", Status: "UP", Weight: 1, CheckMS: 2}}, []Event{
			{Kind: State, Server: "b", From: "DOWN (weight 0)", To: "UP", CheckMS: 2},
			{Kind: State, Server: "a", From: "UP 1/2", To: "gone"},
		}},
	}
	for i, s := range steps {
		at := t0.Add(time.Duration(i) * time.Second)
		got := d.Diff(at, s.servers)
		for j := range s.want {
			s.want[j].T = at
		}
		if !reflect.DeepEqual(got, s.want) {
			t.Errorf("step %d:\n got %+v\nwant %+v", i, got, s.want)
		}
	}
}

func TestReadMarks(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte("1000000000500 begin spread\n1000000001000 inject lab1n2\n"), 0o644)
	got, err := ReadMarks(good)
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{
		{T: time.Unix(1000, 500), Kind: Mark, Label: "begin", Server: "spread"},
		{T: time.Unix(1000, 1000), Kind: Mark, Label: "inject", Server: "lab1n2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	for name, text := range map[string]string{"no label": "123\n", "not a number": "12x begin spread\n", "too many": "1 a b c\n"} {
		p := filepath.Join(dir, "bad")
		os.WriteFile(p, []byte(text), 0o644)
		if _, err := ReadMarks(p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestLine(t *testing.T) {
	start := time.Unix(100, 0)
	cases := map[string]Event{
		"  +1.50s  lab      inject lab1n2": {T: start.Add(1500 * time.Millisecond), Kind: Mark, Label: "inject", Server: "lab1n2"},
		"  +2.00s  lab      cpu-start":     {T: start.Add(2 * time.Second), Kind: Mark, Label: "cpu-start"},
		"  +3.25s  haproxy  lab1n2: UP 1/2 -> DOWN (last check L7STS 503, 1 ms)": {T: start.Add(3250 * time.Millisecond), Kind: State,
			Server: "lab1n2", From: "UP 1/2", To: "DOWN", Check: "L7STS 503", CheckMS: 1},
		"  +4.00s  haproxy  lab1n4: (added) -> MAINT (last check INI, -1 ms)": {T: start.Add(4 * time.Second), Kind: State,
			Server: "lab1n4", To: "MAINT", Check: "INI", CheckMS: -1},
		"  +5.00s  haproxy  lab1n1: DRAIN -> gone": {T: start.Add(5 * time.Second), Kind: State, Server: "lab1n1", From: "DRAIN", To: "gone", Check: "L7OK 200"},
	}
	for want, e := range cases {
		if got := e.Line(start); got != want {
			t.Errorf("got  %q\nwant %q", got, want)
		}
	}
}
