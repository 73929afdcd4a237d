// Command bench measures scaleapp on this machine and prints the figures the README quotes: start to
// first 200, throughput of /health and of a route logged at info, machine CPU during /cpu (next to
// stress-ng, the reference stressor), /health latency while /cpu fills every core with and without
// burner isolation, peak RSS, and SIGTERM to exit under load. Run it through `make bench`
// (scripts/bench.sh builds the binary first). With -baseline, a second binary (an older build, say) is
// measured beside it, figure by figure, so a busy machine's noise hits both alike.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var (
	binary   = flag.String("binary", "bin/scaleapp", "the scaleapp binary to measure")
	baseline = flag.String("baseline", "", "another scaleapp binary to measure beside it, figure by figure")
	runs     = flag.Int("runs", 20, "repetitions of the start-up measurement")
	latency  = flag.Duration("latency-window", 10*time.Second, "how long /health is polled during /cpu, per mode")
	wrkTime  = flag.Duration("wrk-time", 10*time.Second, "length of the throughput run")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func say(format string, args ...any) {
	fmt.Printf("[bench %s] "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func run() error {
	t0 := time.Now()
	bins := []string{*binary}
	if *baseline != "" {
		bins = append(bins, *baseline)
	}
	say("machine: %d CPUs, %s; binaries %s", runtime.NumCPU(), runtime.GOOS+"/"+runtime.GOARCH, strings.Join(bins, ", "))
	type row struct {
		name string
		figs []string
	}
	var rows []row
	// each measures one figure for every binary, one after the other.
	each := func(name string, measure func(bin string) (string, error)) error {
		r := row{name: name}
		for _, bin := range bins {
			fig, err := measure(bin)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", name, bin, err)
			}
			say("%-46s %s: %s", name, bin, fig)
			r.figs = append(r.figs, fig)
		}
		rows = append(rows, r)
		return nil
	}
	rss := map[string]int64{}

	if err := each("start to first 200 from /health (median, max)", func(bin string) (string, error) {
		startup, err := measureStartup(bin, *runs)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%.1f ms, %.1f ms (%d runs)", ms(median(startup)), ms(slices.Max(startup)), *runs), nil
	}); err != nil {
		return err
	}
	for _, path := range []string{"/health", "/version"} {
		name := fmt.Sprintf("%s throughput, 32 connections (wrk), log as shipped", path)
		if err := each(name, func(bin string) (string, error) {
			rps, peak, err := measureThroughput(bin, path, *wrkTime)
			rss[bin] = max(rss[bin], peak)
			return fmt.Sprintf("%.0f req/s", rps), err
		}); err != nil {
			return err
		}
	}
	// The dashboard is this build's: an older baseline may not serve it, so its cell stays empty.
	if err := each("/health (wrk) without, then with a dashboard open (its 1 s polls)", func(bin string) (string, error) {
		if bin != *binary {
			return "-", nil
		}
		without, with, err := measureDashboardCost(bin, *wrkTime, 3)
		if err != nil {
			return "", err
		}
		closed, rClosed := summary(without)
		open, rOpen := summary(with)
		return fmt.Sprintf("without: %s; with: %s (%.2fx the req/s without)", closed, open, rOpen/rClosed), nil
	}); err != nil {
		return err
	}
	for _, load := range []int{100, 50} {
		ref, err := measureStressNG(load)
		if err != nil {
			return err
		}
		say("stress-ng --cpu-load %d: %.1f%%", load, ref)
		if err := each(fmt.Sprintf("machine CPU during /cpu load=%d", load), func(bin string) (string, error) {
			ours, err := measureCPU(bin, load)
			return fmt.Sprintf("%.1f%% (stress-ng --cpu-load %d: %.1f%%)", ours, load, ref), err
		}); err != nil {
			return err
		}
	}
	for _, isolate := range []bool{true, false} {
		name := "isolated burners (default)"
		if !isolate {
			name = "STRESS_ISOLATION=false"
		}
		if err := each("/health under /cpu 100%, "+name, func(bin string) (string, error) {
			l, peak, err := measureLatencyUnderStress(bin, isolate, *latency)
			rss[bin] = max(rss[bin], peak)
			return l, err
		}); err != nil {
			return err
		}
	}
	if err := each("peak RSS (VmHWM) over the runs above", func(bin string) (string, error) {
		return fmt.Sprintf("%.1f MB", float64(rss[bin])/1e6), nil
	}); err != nil {
		return err
	}
	if err := each("SIGTERM to exit under load, DRAIN_DELAY=0", func(bin string) (string, error) {
		stops, failed, err := measureDrainUnderLoad(bin, 5)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("median %.1f ms, max %.1f ms (5 runs); failed in-flight requests: %d", ms(median(stops)), ms(slices.Max(stops)), failed), nil
	}); err != nil {
		return err
	}

	fmt.Println()
	fmt.Printf("| measure | %s |\n", strings.Join(bins, " | "))
	fmt.Printf("|---|%s\n", strings.Repeat("---|", len(bins)))
	for _, r := range rows {
		fmt.Printf("| %s | %s |\n", r.name, strings.Join(r.figs, " | "))
	}
	say("done in %s", time.Since(t0).Round(time.Second))
	return nil
}

// server is one running scaleapp.
type server struct {
	cmd  *exec.Cmd
	port int
	done chan error
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startServer(bin string, env ...string) (*server, error) {
	return startServerLogging(bin, nil, env...)
}

// startServerLogging sends the server's log to stdout when it is not nil.
func startServerLogging(bin string, stdout io.Writer, env ...string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Stdout = stdout
	// The shipped configuration, request log included (to stdout, /dev/null unless asked for).
	cmd.Env = append([]string{fmt.Sprintf("PORT=%d", port), "IMDS_DISABLED=true"}, env...)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, port: port, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	return s, nil
}

func (s *server) url(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", s.port, path) }

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// waitUp polls /health as fast as it can and returns when it first answers 200.
func (s *server) waitUp(within time.Duration) error {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if resp, err := c.Get(s.url("/health")); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
	return fmt.Errorf("no 200 from /health within %s", within)
}

func measureStartup(bin string, n int) ([]time.Duration, error) {
	var out []time.Duration
	for range n {
		t := time.Now()
		s, err := startServer(bin)
		if err != nil {
			return nil, err
		}
		if err := s.waitUp(5 * time.Second); err != nil {
			s.stop()
			return nil, err
		}
		out = append(out, time.Since(t))
		s.stop()
	}
	return out, nil
}

var wrkRate = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

// measureThroughput runs wrk against path and returns req/s and the server's peak RSS in bytes.
func measureThroughput(bin, path string, d time.Duration) (float64, int64, error) {
	s, err := startServer(bin)
	if err != nil {
		return 0, 0, err
	}
	defer s.stop()
	if err := s.waitUp(5 * time.Second); err != nil {
		return 0, 0, err
	}
	out, err := exec.Command("wrk", "-t2", "-c32", "-d"+d.String(), s.url(path)).CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "Non-2xx") || strings.Contains(string(out), "Socket errors") {
		return 0, 0, fmt.Errorf("wrk saw errors:\n%s", out)
	}
	m := wrkRate.FindSubmatch(out)
	if m == nil {
		return 0, 0, fmt.Errorf("no rate in wrk output:\n%s", out)
	}
	rps, _ := strconv.ParseFloat(string(m[1]), 64)
	return rps, peakRSS(s.cmd.Process.Pid), nil
}

// cpuSample is the machine's busy and total jiffies from /proc/stat.
func cpuSample() (busy, total uint64) {
	b, _ := os.ReadFile("/proc/stat")
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])[1:]
	for i, v := range f {
		n, _ := strconv.ParseUint(v, 10, 64)
		if i >= 8 { // guest time is already counted in user
			break
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return
}

// machineCPU is the busy percentage of the whole machine over d, skipping a settle time first.
func machineCPU(d time.Duration) float64 {
	time.Sleep(500 * time.Millisecond)
	b0, t0 := cpuSample()
	time.Sleep(d)
	b1, t1 := cpuSample()
	return 100 * float64(b1-b0) / float64(t1-t0)
}

func measureCPU(bin string, load int) (float64, error) {
	s, err := startServer(bin)
	if err != nil {
		return 0, err
	}
	defer s.stop()
	if err := s.waitUp(5 * time.Second); err != nil {
		return 0, err
	}
	resp, err := http.Post(s.url(fmt.Sprintf("/cpu?seconds=6&load=%d", load)), "", nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		return 0, fmt.Errorf("POST /cpu: %s", resp.Status)
	}
	return machineCPU(5 * time.Second), nil
}

func measureStressNG(load int) (float64, error) {
	cmd := exec.Command("stress-ng", "--cpu", strconv.Itoa(runtime.NumCPU()), "--cpu-load", strconv.Itoa(load), "-t", "6s", "--quiet")
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("stress-ng (apt-get install stress-ng): %w", err)
	}
	pct := machineCPU(5 * time.Second)
	return pct, cmd.Wait()
}

// measureLatencyUnderStress polls /health every 20 ms with a fresh connection each time (as the ALB
// does) and a 5 s timeout while /cpu burns every core.
func measureLatencyUnderStress(bin string, isolate bool, window time.Duration) (string, int64, error) {
	s, err := startServer(bin, "STRESS_ISOLATION="+strconv.FormatBool(isolate))
	if err != nil {
		return "", 0, err
	}
	defer s.stop()
	if err := s.waitUp(5 * time.Second); err != nil {
		return "", 0, err
	}
	secs := window.Seconds() + 2
	resp, err := http.Post(s.url(fmt.Sprintf("/cpu?seconds=%g", secs)), "", nil)
	if err != nil {
		return "", 0, err
	}
	resp.Body.Close()
	time.Sleep(500 * time.Millisecond)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var lat []time.Duration
	failures := 0
	b0, t0 := cpuSample()
	for end := time.Now().Add(window); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		t := time.Now()
		resp, err := c.Get(s.url("/health"))
		if err != nil {
			failures++
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			failures++
			continue
		}
		lat = append(lat, time.Since(t))
	}
	b1, t1 := cpuSample()
	if len(lat) == 0 {
		return "", 0, errors.New("no successful /health poll")
	}
	slices.Sort(lat)
	p := func(q float64) float64 { return ms(lat[int(q*float64(len(lat)-1))]) }
	return fmt.Sprintf("p50 %.2f ms, p99 %.2f ms, max %.2f ms, %d failures of %d, machine CPU %.1f%%",
		p(0.5), p(0.99), ms(lat[len(lat)-1]), failures, len(lat)+failures, 100*float64(b1-b0)/float64(t1-t0)), peakRSS(s.cmd.Process.Pid), nil
}

// measureDrainUnderLoad keeps 32 clients busy on /health, sends SIGTERM, and times the exit. A request
// is in flight once a handler runs; each one writes a log line when it answers (LOG_LEVEL=debug: /health
// logs at debug), so a request logged by the server but never received by a client is a failed
// in-flight request. (Requests written to a
// kept-alive connection the server closed before reading them never reached a handler: the client sees
// an error, but nothing was lost in flight; a load balancer retries those on another target.)
func measureDrainUnderLoad(bin string, n int) ([]time.Duration, int, error) {
	var took []time.Duration
	failed := 0
	for range n {
		log := &lineCounter{}
		s, err := startServerLogging(bin, log, "DRAIN_DELAY=0s", "LOG_LEVEL=debug")
		if err != nil {
			return nil, 0, err
		}
		if err := s.waitUp(5 * time.Second); err != nil {
			s.stop()
			return nil, 0, err
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var ok atomic.Int64
		tr := &http.Transport{MaxIdleConnsPerHost: 32}
		c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					resp, err := c.Get(s.url("/health"))
					switch {
					case err == nil:
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						ok.Add(1)
					default:
						time.Sleep(time.Millisecond) // refused once the listener closed
					}
				}
			}()
		}
		time.Sleep(time.Second)
		t := time.Now()
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err = <-s.done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			err = errors.New("still running 10 s after SIGTERM")
		}
		took = append(took, time.Since(t))
		cancel()
		wg.Wait()
		tr.CloseIdleConnections()
		if err != nil {
			return nil, 0, fmt.Errorf("exit after SIGTERM under load: %v", err)
		}
		if ok.Load() == 0 {
			return nil, 0, errors.New("the load generator got no answer")
		}
		const probes = 1 // waitUp's one successful GET, logged but not counted in ok
		logged := log.count("\"message\":\"request\"") - probes
		if logged < ok.Load() {
			return nil, 0, fmt.Errorf("%d requests answered but only %d logged: log lines were dropped, the count is void", ok.Load(), logged)
		}
		failed += int(logged - ok.Load())
	}
	return took, failed, nil
}

// lineCounter keeps a process's log to count lines in it.
type lineCounter struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *lineCounter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lineCounter) count(s string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int64(strings.Count(l.buf.String(), s))
}

// peakRSS reads VmHWM of a running process, in bytes.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
