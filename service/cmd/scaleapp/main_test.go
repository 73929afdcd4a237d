package main

// Integration tests: they build the real binary and run it as systemd, a load balancer and an operator
// would, over real sockets and signals.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scaleapp/scaleapp/internal/localfleet"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "scaleapp-itest")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "scaleapp")
	build := exec.Command("go", "build", "-ldflags", "-X github.com/scaleapp/scaleapp/service/buildinfo.Version=itest", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running scaleapp.
type proc struct {
	cmd    *exec.Cmd
	base   string
	stdout *syncBuilder
	exited chan error
}

// syncBuilder keeps a process's output while the test reads it.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs the binary with env (PORT and IMDS_DISABLED are set unless env sets them) and waits until
// it serves /health.
func start(t *testing.T, env ...string) *proc {
	t.Helper()
	return startWith(t, nil, []int{http.StatusOK}, env...)
}

// startWith is start with stdout to out when it is not nil, waiting until /health answers one of codes.
func startWith(t *testing.T, stdout *os.File, codes []int, env ...string) *proc {
	t.Helper()
	port := localfleet.FreePort(t)
	cmd := exec.Command(binary)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", fmt.Sprintf("PORT=%d", port), "IMDS_DISABLED=true"}, env...)
	out := &syncBuilder{}
	cmd.Stdout, cmd.Stderr = out, out
	if stdout != nil {
		cmd.Stdout = stdout
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d", port), stdout: out, exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("scaleapp output:\n%s", out)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if code, _ := p.get(t, "/health"); slices.Contains(codes, code) {
			return p
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("scaleapp did not answer /health with %v within 10 s", codes)
	return nil
}

func (p *proc) get(t *testing.T, path string) (int, string) {
	return p.do(t, http.MethodGet, path)
}

func (p *proc) do(t *testing.T, method, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, p.base+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (p *proc) waitExit(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case err := <-p.exited:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(within):
		t.Fatalf("scaleapp still running %s later", within)
		return -1
	}
}

// notifySocket listens like systemd's notify socket; expect waits for a datagram containing want,
// skipping others (watchdog pings interleave).
type notifySocket struct {
	path string
	msgs chan string
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	n := &notifySocket{path: path, msgs: make(chan string, 1024)}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			n.msgs <- string(buf[:k])
		}
	}()
	return n
}

func (n *notifySocket) expect(t *testing.T, want string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-n.msgs:
			if strings.Contains(m, want) {
				return m
			}
		case <-timeout:
			t.Fatalf("no sd_notify message containing %q", want)
		}
	}
}

// pings counts WATCHDOG=1 messages over d.
func (n *notifySocket) pings(d time.Duration) int {
	pings := 0
	for end := time.After(d); ; {
		select {
		case m := <-n.msgs:
			if m == "WATCHDOG=1" {
				pings++
			}
		case <-end:
			return pings
		}
	}
}

func TestNotifyProtocol(t *testing.T) {
	n := listenNotify(t)
	// Pings every 500 ms after a self-check of up to 250 ms, time enough on a busy machine.
	p := start(t, "NOTIFY_SOCKET="+n.path, "WATCHDOG_USEC=1500000")
	if m := n.expect(t, "READY=1"); !strings.Contains(m, "STATUS=idle") {
		t.Fatalf("READY message %q lacks the first status", m)
	}
	// About 4 pings in 2 s. The lower limit leaves room for a busy machine; more than 6 would be
	// pinging faster than a third of the interval.
	if pings := n.pings(2 * time.Second); pings < 2 || pings > 6 {
		t.Fatalf("%d watchdog pings in 2 s with WATCHDOG_USEC=1.5s, want about 4", pings)
	}
	if !strings.Contains(p.stdout.String(), "systemd watchdog armed") {
		t.Fatalf("no watchdog line in the log:\n%s", p.stdout)
	}

	if code, body := p.do(t, "POST", "/cpu?seconds=30&load=1&workers=2"); code != 202 {
		t.Fatalf("POST /cpu: %d %s", code, body)
	}
	n.expect(t, "STATUS=stress 1% x2 until ")
	if code, _ := p.do(t, "DELETE", "/cpu"); code != 200 {
		t.Fatalf("DELETE /cpu: %d", code)
	}
	n.expect(t, "STATUS=idle")

	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if m := n.expect(t, "STOPPING=1"); !strings.Contains(m, "STATUS=draining: signal terminated") {
		t.Fatalf("STOPPING message %q lacks the draining status", m)
	}
	if code := p.waitExit(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
}

// TestNotifyIsNoopWithoutSocket: a WATCHDOG_USEC without NOTIFY_SOCKET (a unit's environment copied to
// a shell) arms nothing: no self-checks, no pings to nowhere, no errors; the service serves and stops.
func TestNotifyIsNoopWithoutSocket(t *testing.T) {
	p := start(t, "WATCHDOG_USEC=600000", "LOG_LEVEL=debug")
	time.Sleep(500 * time.Millisecond)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.waitExit(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, unwanted := range []string{"systemd watchdog armed", "sd_notify failed", "self-check failed"} {
		if strings.Contains(p.stdout.String(), unwanted) {
			t.Fatalf("%q without a notify socket:\n%s", unwanted, p.stdout)
		}
	}
}

// TestWatchdogStopsWhenHTTPWedged: the process is alive and its notify socket works, but its own HTTP
// listener cannot be reached: the self-check fails and the pings stop, so systemd would restart it;
// once the path is back, the pings resume. The binary runs in a network namespace of its own whose
// loopback the test takes down and up (root, unshare and nsenter from util-linux, ip from iproute2).
func TestWatchdogStopsWhenHTTPWedged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root for a network namespace (make test runs as root)")
	}
	n := listenNotify(t)
	// The test cannot reach a server in another namespace, so it waits for READY instead of /health.
	cmd := exec.Command("unshare", "-n", "sh", "-c", `ip link set lo up && exec "$0"`, binary)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "PORT=8080", "IMDS_DISABLED=true",
		"NOTIFY_SOCKET=" + n.path, "WATCHDOG_USEC=1500000"} // pings every 500 ms, checks within 250 ms
	out := &syncBuilder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("scaleapp output:\n%s", out)
		}
	})
	n.expect(t, "READY=1")
	n.expect(t, "WATCHDOG=1")
	loopback := func(state string) {
		t.Helper()
		ns := fmt.Sprintf("--net=/proc/%d/ns/net", cmd.Process.Pid)
		if b, err := exec.Command("nsenter", ns, "ip", "link", "set", "lo", state).CombinedOutput(); err != nil {
			t.Fatalf("ip link set lo %s: %v %s", state, err, b)
		}
	}

	loopback("down")
	n.pings(time.Second) // a check already under way may still ping
	if pings := n.pings(2 * time.Second); pings != 0 {
		t.Fatalf("%d watchdog pings in 2 s (4 expected when healthy) while the HTTP listener cannot be reached", pings)
	}
	if !strings.Contains(out.String(), "self-check failed: watchdog ping withheld") {
		t.Fatalf("the withheld pings are not logged")
	}
	loopback("up")
	n.expect(t, "WATCHDOG=1")
}

// TestDrain: during the drain delay /health answers 503 DRAINING, and every answer, on a kept-alive
// connection too, says Connection: close and ends the connection, so clients (the ALB) reconnect, to
// other instances; then the process exits 0. (A request whose handler is still running at shutdown is
// tested in package app, with a handler slow on purpose.)
func TestDrain(t *testing.T) {
	p := start(t, "DRAIN_DELAY=2s", "SHUTDOWN_TIMEOUT=5s")
	addr := strings.TrimPrefix(p.base, "http://")
	dial := func() (net.Conn, *bufio.Reader) {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	ask := func(c net.Conn, r *bufio.Reader) (*http.Response, string, error) {
		if _, err := io.WriteString(c, "GET /health HTTP/1.1\r\nHost: scaleapp\r\n\r\n"); err != nil {
			return nil, "", err
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return nil, "", err
		}
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b), nil
	}
	idle, idleR := dial()
	if resp, body, err := ask(idle, idleR); err != nil || resp.StatusCode != 200 || body != "UP" || resp.Close {
		t.Fatalf("before SIGTERM: %v %v %q", err, resp, body)
	}

	sigterm := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	var code int
	var body string
	for time.Since(sigterm) < 1500*time.Millisecond {
		if code, body = p.get(t, "/health"); code == 503 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code != 503 || body != "DRAINING" {
		t.Fatalf("during the drain delay /health = %d %q, want 503 DRAINING", code, body)
	}
	t.Logf("/health turned 503 DRAINING %s after SIGTERM", time.Since(sigterm).Round(time.Millisecond))
	for name, conn := range map[string]net.Conn{"kept-alive": idle, "new": nil} {
		r := idleR
		if conn == nil {
			conn, r = dial()
		}
		resp, body, err := ask(conn, r)
		if err != nil || resp.StatusCode != 503 || body != "DRAINING" || !resp.Close {
			t.Fatalf("%s connection during the drain: %v %v %q (want 503 DRAINING, Connection: close)", name, err, resp, body)
		}
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := r.ReadByte(); err != io.EOF {
			t.Fatalf("%s connection still open after a Connection: close answer: %v", name, err)
		}
	}
	select {
	case err := <-p.exited:
		t.Fatalf("exited (%v) before the drain delay ended", err)
	case <-time.After(time.Until(sigterm.Add(1500 * time.Millisecond))):
	}
	if code := p.waitExit(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if took := time.Since(sigterm); took < 2*time.Second {
		t.Fatalf("exited %s after SIGTERM, before DRAIN_DELAY=2s", took)
	}
	if !strings.Contains(p.stdout.String(), `"message":"stopped"`) {
		t.Fatalf("no stop log line:\n%s", p.stdout)
	}
}

func TestConfigErrorsExit2(t *testing.T) {
	cases := []struct{ env, want string }{
		{"PORT=99999", `scaleapp: invalid PORT="99999": must be an integer from 1 to 65535`},
		{"DRAIN_DELAY=soon", `scaleapp: invalid DRAIN_DELAY="soon"`},
		{"STRESS_ENABLED=maybe", `scaleapp: invalid STRESS_ENABLED="maybe"`},
		{"CPU_STRESS_TIME=0", `scaleapp: invalid CPU_STRESS_TIME="0"`},
		{"LOG_LEVEL=loud", `scaleapp: invalid LOG_LEVEL="loud"`},
		{"IMDS_ENDPOINT=nowhere", `scaleapp: invalid IMDS_ENDPOINT="nowhere"`},
		{"DRAIN_DELAY=40s", `scaleapp: invalid DRAIN_DELAY="40s" + SHUTDOWN_TIMEOUT="10s": together at most 30s`},
	}
	for _, c := range cases {
		t.Run(c.env, func(t *testing.T) {
			cmd := exec.Command(binary)
			cmd.Env = []string{c.env}
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 2 {
				t.Fatalf("exit %v, want 2", err)
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], c.want) || stdout.Len() != 0 {
				t.Fatalf("stderr %q stdout %q, want one line starting %q", stderr.String(), stdout.String(), c.want)
			}
		})
	}
}

func TestHealthcheckSubcommand(t *testing.T) {
	p := start(t)
	port := strings.TrimPrefix(p.base, "http://127.0.0.1:")
	run := func() (int, string) {
		out, err := exec.Command(binary, "healthcheck", "-port", port).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		return 0, string(out)
	}
	if code, out := run(); code != 0 || strings.TrimSpace(out) != "UP" {
		t.Fatalf("healthcheck while up: %d %q", code, out)
	}
	if code, _ := p.do(t, "POST", "/health/fail?seconds=30"); code != 200 {
		t.Fatalf("inject failure: %d", code)
	}
	if code, out := run(); code != 1 || strings.TrimSpace(out) != "UNHEALTHY" {
		t.Fatalf("healthcheck while failing: %d %q", code, out)
	}
	_ = p.cmd.Process.Kill()
	p.waitExit(t, 10*time.Second)
	if code, out := run(); code != 1 || !strings.Contains(out, "connection refused") {
		t.Fatalf("healthcheck with nothing listening: %d %q", code, out)
	}
	help := exec.Command(binary, "healthcheck", "-help")
	if out, err := help.CombinedOutput(); err == nil || help.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "usage: scaleapp") {
		t.Fatalf("healthcheck -help: %v %q (want the usage and exit 1: nothing was probed)", err, out)
	}
	cmd := exec.Command(binary, "healthcheck")
	cmd.Env = []string{"PORT=http"}
	if out, err := cmd.CombinedOutput(); err == nil || cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "invalid PORT") {
		t.Fatalf("healthcheck with a bad PORT: %v %q (want exit 1: 2 is reserved for HEALTHCHECK)", err, out)
	}
}

// metadataMock starts AWS's own IMDS simulator (installed by scripts/install-tools.sh), IMDSv2 only,
// with the mock's own arguments.
func metadataMock(t *testing.T, args ...string) string {
	t.Helper()
	bin := localfleet.MetadataMock(t)
	port := localfleet.FreePort(t)
	cmd := exec.Command(bin, append([]string{"-n", "127.0.0.1", "-p", fmt.Sprint(port), "-I"}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"HOME=" + cmd.Dir}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(url + "/latest/meta-data/instance-id"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized { // IMDSv2 only: a GET without a token is refused
				return url
			}
		}
	}
	t.Fatal("ec2-metadata-mock did not start")
	return ""
}

func TestIdentityFromMetadataMock(t *testing.T) {
	url := metadataMock(t, "-d", "600", "--asg-termination-delay-sec", "600")
	p := start(t, "IMDS_DISABLED=false", "IMDS_ENDPOINT="+url)
	var id map[string]string
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, body := p.get(t, "/")
		_ = json.Unmarshal([]byte(body), &id)
		if id["source"] == "imds" {
			break
		}
	}
	want := map[string]string{"instance_id": "i-1234567890abcdef0", "availability_zone": "us-east-1f",
		"ami_id": "ami-0b69ea66ff7391e80", "instance_type": "m4.xlarge", "private_ip": "10.0.7.10",
		"hostname": "ip-172-16-34-43.ec2.internal", "source": "imds", "version": "itest"}
	for k, v := range want {
		if id[k] != v {
			t.Errorf("GET / %s = %q, want %q", k, id[k], v)
		}
	}
}

// TestOffEC2StartsFast: off EC2 the metadata address usually swallows packets. A listener that accepts
// and never answers stands in for it: the service must ask it (the watcher runs), serve at once anyway,
// and fall back to the local identity after its 300 ms probe timeout.
func TestOffEC2StartsFast(t *testing.T) {
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	asked := make(chan struct{}, 100)
	go func() {
		for {
			c, err := hole.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
			asked <- struct{}{}
		}
	}()
	t0 := time.Now()
	p := start(t, "IMDS_DISABLED=false", "IMDS_ENDPOINT=http://"+hole.Addr().String())
	served := time.Since(t0)
	select {
	case <-asked:
	case <-time.After(10 * time.Second):
		t.Fatal("the service never asked the metadata endpoint")
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.stdout.String(), "no instance metadata: answering as a local instance"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no fallback line in the log:\n%s", p.stdout)
		}
	}
	// The service served before the metadata probe could even time out: READY does not wait for IMDS.
	if !strings.Contains(p.stdout.String(), `"message":"serving"`) {
		t.Fatalf("no serving line:\n%s", p.stdout)
	}
	_, body := p.get(t, "/")
	if !strings.Contains(body, `"availability_zone": "local"`) {
		t.Fatalf("GET / off EC2: %s", body)
	}
	t.Logf("served /health %s after start", served.Round(time.Millisecond))
}

// TestStalledLogNeverBlocks: stdout on a pipe nobody reads (a stuck journald) must cost log lines, never
// answers. While it is stuck scaleapp_log_output_stalled_seconds says so; once it moves again the lines
// lost are counted in scaleapp_log_lines_dropped_total.
func TestStalledLogNeverBlocks(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close() // open and not read yet: the pipe fills after 64 KiB
	p := startWith(t, w, []int{http.StatusOK})
	w.Close()
	c := &http.Client{Timeout: 5 * time.Second}
	var wg sync.WaitGroup
	var failures sync.Map
	for worker := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 { // 8,000 request lines: twice the 64 KiB pipe and the 4,096-line buffer
				resp, err := c.Get(p.base + "/version")
				if err != nil {
					failures.Store(fmt.Sprint(worker, "/", i), err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	failures.Range(func(k, v any) bool { t.Fatalf("request %v with the log stalled: %v", k, v); return false })
	if code, body := p.get(t, "/health"); code != 200 {
		t.Fatalf("/health with the log stalled: %d %s", code, body)
	}
	if stalled := metric(t, p, "scaleapp_log_output_stalled_seconds"); stalled <= 0 {
		t.Fatalf("scaleapp_log_output_stalled_seconds = %v with the log stalled", stalled)
	}

	go func() { _, _ = io.Copy(io.Discard, r) }() // the output moves again
	var dropped float64
	for deadline := time.Now().Add(10 * time.Second); dropped < 1000 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		dropped = metric(t, p, "scaleapp_log_lines_dropped_total")
	}
	if dropped < 1000 {
		t.Fatalf("scaleapp_log_lines_dropped_total = %v, want at least 1,000 of the 8,000 request lines", dropped)
	}
	t.Logf("%v log lines dropped", dropped)
}

// metric reads one unlabelled sample from GET /metrics.
func metric(t *testing.T, p *proc, name string) float64 {
	t.Helper()
	_, body := p.get(t, "/metrics")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return 0
}

// TestHugeRequestHeaderIs431: MaxHeaderBytes is set on purpose (64 KiB, like the ALB): a 100 KB path is
// refused by net/http before any handler, not echoed back in full.
func TestHugeRequestHeaderIs431(t *testing.T) {
	p := start(t)
	c, err := net.Dial("tcp", strings.TrimPrefix(p.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		_, _ = io.WriteString(c, "GET /"+strings.Repeat("a", 100<<10)+" HTTP/1.1\r\nHost: scaleapp\r\n\r\n")
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("100 KB request line: %s, want 431", resp.Status)
	}
}

func TestASGTerminationStartsDrain(t *testing.T) {
	url := metadataMock(t, "--asg-termination-delay-sec", "1", "-d", "600")
	// The watcher looks at start, then every 5 s; the mock turns Terminated 1 s after its own start, so
	// on a loaded machine the drain may begin before the first /health.
	p := startWith(t, nil, []int{http.StatusOK, http.StatusServiceUnavailable}, "IMDS_DISABLED=false", "IMDS_ENDPOINT="+url, "DRAIN_DELAY=3s")
	var code int
	var body string
	for deadline := time.Now().Add(8 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if code, body = p.get(t, "/health"); code == 503 {
			break
		}
	}
	if code != 503 || body != "DRAINING" {
		t.Fatalf("/health = %d %q after the ASG lifecycle state became Terminated", code, body)
	}
	// systemd's SIGTERM as the ASG terminates the instance is the first signal: the drain goes on.
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.waitExit(t, 15*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	var stopped struct {
		Took float64 `json:"took"` // ms from the start of the drain
	}
	for _, line := range strings.Split(p.stdout.String(), "\n") {
		if strings.Contains(line, `"message":"stopped"`) {
			_ = json.Unmarshal([]byte(line), &stopped)
		}
	}
	if stopped.Took < 3000 || strings.Contains(p.stdout.String(), "drain delay cut short") {
		t.Fatalf("the SIGTERM after the metadata drain cut DRAIN_DELAY=3s (drain took %.0f ms):\n%s", stopped.Took, p.stdout)
	}
	if !strings.Contains(p.stdout.String(), "target lifecycle state is Terminated") {
		t.Fatalf("log does not say why it drained:\n%s", p.stdout)
	}
}
