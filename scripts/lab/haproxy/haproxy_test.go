package haproxy

import (
	"bufio"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// A `show stat -1 4 -1` answer of HAProxy 2.6, cut to the columns the lab reads plus a few around them.
const stat = `# pxname,svname,qcur,scur,status,weight,chkfail,chkdown,check_status,check_code,check_duration,
targets,FRONTEND,0,1,OPEN,,,,,,,
targets,lab1n1,0,0,UP,1,0,0,L7OK,200,1,
targets,lab1n2,0,0,UP 1/2,1,3,1,L7STS,503,2,
targets,lab1n3,0,0,DOWN,0,0,0,* L4CON,,0,
targets,lab1n4,0,0,MAINT,0,0,0,INI,,,
targets,BACKEND,0,1,UP,2,,1,,,,
`

func TestParseStat(t *testing.T) {
	got, err := ParseStat(stat)
	if err != nil {
		t.Fatal(err)
	}
	want := []Server{
		{Backend: "targets", Name: "lab1n1", Status: "UP", CheckStatus: "L7OK", CheckCode: "200", CheckMS: 1, Weight: 1},
		{Backend: "targets", Name: "lab1n2", Status: "UP 1/2", CheckStatus: "L7STS", CheckCode: "503", CheckMS: 2, ChkFail: 3, ChkDown: 1, Weight: 1},
		{Backend: "targets", Name: "lab1n3", Status: "DOWN", CheckStatus: "L4CON", CheckMS: 0},
		{Backend: "targets", Name: "lab1n4", Status: "MAINT", CheckStatus: "INI", CheckMS: -1},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d servers, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("server %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestParseStatErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":          "",
		"no weight":      "# pxname,svname,status,chkfail,chkdown,check_status,check_code,check_duration\n",
		"runtime error":  "Unknown command.\n",
		"broken quoting": "# pxname,svname\n\"a,b\n",
	} {
		if _, err := ParseStat(in); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestStateAndRotation(t *testing.T) {
	cases := []struct {
		s     Server
		state string
		in    bool
	}{
		{Server{Status: "UP", Weight: 1}, "UP", true},
		{Server{Status: "UP 1/2", Weight: 1}, "UP 1/2", true}, // one failed check does not pull it
		{Server{Status: "UP", Weight: 0}, "UP (weight 0)", false},
		{Server{Status: "UP 1/2", Weight: 0}, "UP 1/2 (weight 0)", false},
		{Server{Status: "DOWN 1/2", Weight: 1}, "DOWN 1/2", false},
		{Server{Status: "DOWN", Weight: 1}, "DOWN", false},
		{Server{Status: "DRAIN", Weight: 1}, "DRAIN", false},
		{Server{Status: "MAINT", Weight: 0}, "MAINT", false},
	}
	for _, c := range cases {
		if got := c.s.State(); got != c.state {
			t.Errorf("%+v: State %q, want %q", c.s, got, c.state)
		}
		if got := InRotation(c.s.State()); got != c.in {
			t.Errorf("InRotation(%q) = %v, want %v", c.s.State(), got, c.in)
		}
	}
}

// TestCommand: one command per connection, the whole answer returned once HAProxy closes it.
func TestCommand(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		_, _ = c.Write([]byte("got: " + strings.TrimSpace(line) + "\nsecond line\n"))
	}()
	got, err := Command(sock, "show stat")
	if err != nil {
		t.Fatal(err)
	}
	if got != "got: show stat\nsecond line\n" {
		t.Errorf("answer %q", got)
	}
	if _, err := Command(filepath.Join(t.TempDir(), "none"), "show stat"); err == nil {
		t.Error("no error for a missing socket")
	}
}
