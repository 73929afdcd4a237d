// Package load reads what the load generator (vegeta) measured: its own report, which gives every
// request and failure count the lab prints, and its per-request results, which give the timeline
// (requests, failures and the instance that answered, second by second).
package load

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Report is the part of `vegeta report -type=json` the lab uses.
type Report struct {
	Requests    int            `json:"requests"`
	StatusCodes map[string]int `json:"status_codes"` // "0": no HTTP answer (socket error, timeout)
	Errors      []string       `json:"errors"`
	Latencies   struct {
		P99 time.Duration `json:"99th"`
		Max time.Duration `json:"max"`
	} `json:"latencies"`
}

// Failed counts every request that did not get a 2xx answer, socket errors and timeouts included.
func (r Report) Failed() int {
	ok := 0
	for code, n := range r.StatusCodes {
		if c, err := strconv.Atoi(code); err == nil && c >= 200 && c < 300 {
			ok += n
		}
	}
	return r.Requests - ok
}

// ReadReport reads vegeta's JSON report.
func ReadReport(path string) (Report, error) {
	var r Report
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Result is one request as vegeta recorded it.
type Result struct {
	T        time.Time     // when it was sent
	Latency  time.Duration // until the answer (or the error)
	Code     int           // 0 when no HTTP answer came
	Error    string
	Instance string // instance_id from GET /'s answer ("" when it failed)
}

// OK says whether the request counts as served.
func (r Result) OK() bool { return r.Code >= 200 && r.Code < 300 && r.Error == "" }

// ReadResults reads `vegeta encode --to json` output: one JSON object per request, the body base64.
func ReadResults(path string) ([]Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var v struct {
			Timestamp time.Time     `json:"timestamp"`
			Latency   time.Duration `json:"latency"`
			Code      int           `json:"code"`
			Error     string        `json:"error"`
			Body      []byte        `json:"body"`
		}
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		r := Result{T: v.Timestamp, Latency: v.Latency, Code: v.Code, Error: v.Error}
		if r.OK() {
			var id struct {
				InstanceID string `json:"instance_id"`
			}
			if err := json.Unmarshal(v.Body, &id); err != nil || id.InstanceID == "" {
				return nil, fmt.Errorf("%s:%d: a 2xx answer without an instance_id: %.80q", path, n, v.Body)
			}
			r.Instance = id.InstanceID
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// Second is one second of load: how many requests were sent, failed, and answered by each instance.
type Second struct {
	Offset   int
	Requests int
	Failed   int
	By       map[string]int
}

// PerSecond buckets results by the second they were sent, counted from start.
func PerSecond(results []Result, start time.Time) []Second {
	var out []Second
	for _, r := range results {
		i := int(r.T.Sub(start) / time.Second)
		if i < 0 {
			i = 0
		}
		for len(out) <= i {
			out = append(out, Second{Offset: len(out), By: map[string]int{}})
		}
		s := &out[i]
		s.Requests++
		if r.OK() {
			s.By[r.Instance]++
		} else {
			s.Failed++
		}
	}
	return out
}

// Line is a second as the timeline shows it; instances lists the columns (every instance of the run).
func (s Second) Line(instances []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%+7ds  load     %4d req  %3d failed ", s.Offset, s.Requests, s.Failed)
	for _, id := range instances {
		fmt.Fprintf(&b, " %s %-4d", id, s.By[id])
	}
	return strings.TrimRight(b.String(), " ")
}

// Instances lists every instance that answered, sorted.
func Instances(results []Result) []string {
	var ids []string
	for _, r := range results {
		if r.Instance != "" && !slices.Contains(ids, r.Instance) {
			ids = append(ids, r.Instance)
		}
	}
	slices.Sort(ids)
	return ids
}

// First is when instance first answered at or after t (zero when it never did).
func First(results []Result, instance string, t time.Time) time.Time {
	for _, r := range results {
		if r.Instance == instance && !r.T.Before(t) {
			return r.T
		}
	}
	return time.Time{}
}

// Last is when instance last answered (zero when it never did).
func Last(results []Result, instance string) time.Time {
	var last time.Time
	for _, r := range results {
		if r.Instance == instance && r.T.After(last) {
			last = r.T
		}
	}
	return last
}
