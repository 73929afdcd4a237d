package load

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFailed(t *testing.T) {
	cases := []struct {
		codes map[string]int
		req   int
		want  int
	}{
		{map[string]int{"200": 100}, 100, 0},
		{map[string]int{"200": 90, "502": 4, "503": 6}, 100, 10},
		{map[string]int{"200": 95, "0": 5}, 100, 5}, // socket errors and timeouts have code 0
		{map[string]int{"204": 10, "301": 1, "404": 1}, 12, 2},
	}
	for _, c := range cases {
		if got := (Report{Requests: c.req, StatusCodes: c.codes}).Failed(); got != c.want {
			t.Errorf("%v: Failed() = %d, want %d", c.codes, got, c.want)
		}
	}
}

// Two lines of `vegeta encode --to json`: an answer from lab1n1 and a 502 from the balancer.
const results = `{"attack":"","seq":0,"code":200,"timestamp":"2026-11-30T14:00:00.100Z","latency":1500000,"bytes_out":0,"bytes_in":60,"error":"","body":"eyJpbnN0YW5jZV9pZCI6ImxhYjFuMSIsInNvdXJjZSI6ImxvY2FsIn0=","method":"GET","url":"http://127.0.0.1:1/","headers":{}}
{"attack":"","seq":1,"code":502,"timestamp":"2026-11-30T14:00:01.200Z","latency":2000000000,"bytes_out":0,"bytes_in":10,"error":"502 Bad Gateway","body":"PGh0bWw+","method":"GET","url":"http://127.0.0.1:1/","headers":{}}
{"attack":"","seq":2,"code":0,"timestamp":"2026-11-30T14:00:01.300Z","latency":30000000000,"bytes_out":0,"bytes_in":0,"error":"timeout","body":null,"method":"GET","url":"http://127.0.0.1:1/","headers":{}}
`

func TestReadResultsAndPerSecond(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.json")
	os.WriteFile(p, []byte(results), 0o644)
	rs, err := ReadResults(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 || rs[0].Instance != "lab1n1" || !rs[0].OK() || rs[1].OK() || rs[2].OK() || rs[1].Instance != "" {
		t.Fatalf("results %+v", rs)
	}
	if rs[0].Latency != 1500*time.Microsecond {
		t.Errorf("latency %v", rs[0].Latency)
	}
	start := time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC)
	secs := PerSecond(rs, start)
	if len(secs) != 2 || secs[0].Requests != 1 || secs[0].By["lab1n1"] != 1 || secs[1].Requests != 2 || secs[1].Failed != 2 {
		t.Fatalf("per second %+v", secs)
	}
	if got, want := secs[1].Line([]string{"lab1n1"}), "     +1s  load        2 req    2 failed  lab1n1 0"; got != want {
		t.Errorf("line %q, want %q", got, want)
	}
	if got := Instances(rs); len(got) != 1 || got[0] != "lab1n1" {
		t.Errorf("instances %v", got)
	}
	if First(rs, "lab1n1", start) != rs[0].T || !First(rs, "lab1n1", start.Add(time.Second)).IsZero() || Last(rs, "lab1n1") != rs[0].T {
		t.Error("First/Last")
	}
}

func TestReadResultsRefusesAnAnswerWithoutInstance(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.json")
	line := strings.Replace(strings.Split(results, "\n")[0], "eyJpbnN0YW5jZV9pZCI6ImxhYjFuMSIsInNvdXJjZSI6ImxvY2FsIn0=", "e30=", 1) // {}
	os.WriteFile(p, []byte(line+"\n"), 0o644)
	if _, err := ReadResults(p); err == nil || !strings.Contains(err.Error(), "instance_id") {
		t.Errorf("err = %v", err)
	}
}
