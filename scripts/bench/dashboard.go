package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var wrkP99 = regexp.MustCompile(`\n\s+99%\s+([0-9.]+)(us|ms|s)\b`)

// wrkRound is one wrk run's figures.
type wrkRound struct {
	rps float64
	p99 time.Duration
}

// measureDashboardCost runs wrk on /health against one server, alternately without and with a
// dashboard open (rounds of each, so drift on a shared machine hits both), and returns the rounds of
// each mode. The dashboard is its requests, replayed from here as the page sends them: the page, its
// script and styles once, then dashboard/state and GET / every second. The browser itself runs on the
// viewer's machine, not on the instance, so its own CPU is not counted.
func measureDashboardCost(bin string, d time.Duration, rounds int) (without, with []wrkRound, err error) {
	s, err := startServer(bin)
	if err != nil {
		return nil, nil, err
	}
	defer s.stop()
	if err := s.waitUp(5 * time.Second); err != nil {
		return nil, nil, err
	}
	for range rounds {
		for _, open := range []bool{false, true} {
			ctx, cancel := context.WithCancel(context.Background())
			polls := make(chan int, 1)
			if open {
				go func() { polls <- dashboard(ctx, s) }()
			}
			rps, p99, werr := wrkLatency(s.url("/health"), d)
			cancel()
			if werr != nil {
				return nil, nil, werr
			}
			if !open {
				without = append(without, wrkRound{rps, p99})
				continue
			}
			if n := <-polls; n < int(d/time.Second)-1 {
				return nil, nil, fmt.Errorf("the dashboard polled %d times in %s: it must poll every second", n, d)
			}
			with = append(with, wrkRound{rps, p99})
		}
	}
	return without, with, nil
}

// summary is the median of the rounds, and each round.
func summary(rs []wrkRound) (string, float64) {
	rps := make([]float64, len(rs))
	p99 := make([]time.Duration, len(rs))
	each := make([]string, len(rs))
	for i, r := range rs {
		rps[i], p99[i], each[i] = r.rps, r.p99, fmt.Sprintf("%.0f", r.rps)
	}
	slices.Sort(rps)
	m := rps[len(rps)/2]
	return fmt.Sprintf("median %.0f req/s (rounds %s), p99 median %.2f ms", m, strings.Join(each, ", "), ms(median(p99))), m
}

// dashboard sends what an open dashboard sends until ctx ends, and returns the number of poll rounds.
func dashboard(ctx context.Context, s *server) int {
	c := &http.Client{Timeout: 5 * time.Second}
	get := func(path, accept string) []byte {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url(path), nil)
		req.Header.Set("Accept", accept)
		resp, err := c.Do(req)
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return b
	}
	get("/", "text/html")
	get("/dashboard/app.js", "*/*")
	get("/dashboard/style.css", "text/css")
	var since int64
	n := 0
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		var st struct {
			CPU struct{ Samples []struct{ T int64 } }
		}
		if json.Unmarshal(get(fmt.Sprintf("/dashboard/state?since=%d", since), "application/json"), &st) == nil && len(st.CPU.Samples) > 0 {
			since = st.CPU.Samples[len(st.CPU.Samples)-1].T
		}
		get("/", "application/json")
		n++
		select {
		case <-ctx.Done():
			return n
		case <-t.C:
		}
	}
}

// wrkLatency runs wrk as measureThroughput does, with its latency distribution.
func wrkLatency(url string, d time.Duration) (float64, time.Duration, error) {
	out, err := exec.Command("wrk", "-t2", "-c32", "-d"+d.String(), "--latency", url).CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "Non-2xx") || strings.Contains(string(out), "Socket errors") {
		return 0, 0, fmt.Errorf("wrk saw errors:\n%s", out)
	}
	r, l := wrkRate.FindSubmatch(out), wrkP99.FindSubmatch(out)
	if r == nil || l == nil {
		return 0, 0, fmt.Errorf("no rate or p99 in wrk output:\n%s", out)
	}
	rps, _ := strconv.ParseFloat(string(r[1]), 64)
	v, _ := strconv.ParseFloat(string(l[1]), 64)
	unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(l[2])]
	return rps, time.Duration(v * float64(unit)), nil
}
