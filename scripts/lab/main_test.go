package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportAndSummary runs the report of a scale-in from files as scripts/lab.sh writes them, then
// the summary: the timeline interleaves the lab's marks, HAProxy's changes and the load per second,
// and the summary fails when a row failed.
func TestReportAndSummary(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	events := write("events", `{"t":"2025-11-30T10:53:10Z","kind":"state","server":"lab1n1","to":"UP","check":"L7OK 200","check_ms":1,"chkfail":0}
{"t":"2025-11-30T10:53:21.5Z","kind":"state","server":"lab1n1","from":"UP","to":"UP 1/2","check":"L7STS 503","check_ms":1,"chkfail":1}
{"t":"2025-11-30T10:53:22.5Z","kind":"state","server":"lab1n1","from":"UP 1/2","to":"DOWN","check":"L7STS 503","check_ms":1,"chkfail":2}
`)
	marks := write("marks", "1764500000000000000 begin scale-in\n1764500001000000000 stop lab1n1\n1764500004000000000 end scale-in\n")
	// 2025-11-30T10:53:20Z is 1764500000 s: one answer before the stop, one after, one 503 (a failure).
	results := write("results.json", `{"code":200,"timestamp":"2025-11-30T10:53:20.5Z","latency":1000000,"error":"","body":"eyJpbnN0YW5jZV9pZCI6ImxhYjFuMSJ9"}
{"code":200,"timestamp":"2025-11-30T10:53:21.2Z","latency":1000000,"error":"","body":"eyJpbnN0YW5jZV9pZCI6ImxhYjFuMSJ9"}
{"code":503,"timestamp":"2025-11-30T10:53:23.5Z","latency":1000000,"error":"503 Service Unavailable","body":""}
`)
	vreport := write("report.json", `{"requests":3,"status_codes":{"200":2,"503":1},"errors":["503 Service Unavailable"]}`)
	rows := filepath.Join(dir, "rows")
	var out bytes.Buffer
	err := report([]string{"-scenario", "scale-in", "-events", events, "-marks", marks, "-results", results,
		"-vegeta-report", vreport, "-rows", rows, "-inter", "1s", "-timeout", "400ms", "-rise", "2", "-fall", "2", "-drain", "3s"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"     +0s  load        1 req    0 failed  lab1n1 1",
		"  +1.00s  lab      stop lab1n1",
		"  +1.50s  haproxy  lab1n1: UP -> UP 1/2 (last check L7STS 503, 1 ms)",
		"  +2.50s  haproxy  lab1n1: UP 1/2 -> DOWN (last check L7STS 503, 1 ms)",
		"     +3s  load        1 req    1 failed  lab1n1 0",
		"scale-in: 3 requests, 1 failed (vegeta), out of rotation 1.5 s (drain 3.0 s)",
		"FAIL: 1 of 3 requests failed",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	err = summary([]string{"-rows", rows}, &out)
	if err == nil || !strings.Contains(err.Error(), "failed: scale-in") {
		t.Errorf("summary error %v, want the failed scenario named", err)
	}
	if !strings.Contains(out.String(), "| scale-in ") || !strings.Contains(out.String(), "FAIL") {
		t.Errorf("summary table:\n%s", out.String())
	}
	if err := report([]string{"-scenario", "scale-in"}, &out); !errors.Is(err, errUsage) {
		t.Errorf("missing flags: %v, want a usage error", err)
	}
}
