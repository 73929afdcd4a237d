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
	"strings"
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
	stdout *strings.Builder
	exited chan error
}

// start runs the binary with env (PORT and IMDS_DISABLED are set unless env sets them) and waits until
// it serves /health.
func start(t *testing.T, env ...string) *proc {
	t.Helper()
	port := localfleet.FreePort(t)
	cmd := exec.Command(binary)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", fmt.Sprintf("PORT=%d", port), "IMDS_DISABLED=true"}, env...)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
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
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if code, _ := p.get(t, "/health"); code == 200 {
			return p
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("scaleapp did not serve /health within 5 s")
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

func TestNotifyProtocol(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 256)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	// expect waits for a datagram containing want, skipping others (watchdog pings interleave).
	expect := func(want string) string {
		t.Helper()
		timeout := time.After(3 * time.Second)
		for {
			select {
			case m := <-msgs:
				if strings.Contains(m, want) {
					return m
				}
			case <-timeout:
				t.Fatalf("no sd_notify message containing %q", want)
			}
		}
	}

	p := start(t, "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=200000") // pings every 100 ms
	if m := expect("READY=1"); !strings.Contains(m, "STATUS=idle") {
		t.Fatalf("READY message %q lacks the first status", m)
	}
	pings := 0
	for deadline := time.Now().Add(600 * time.Millisecond); time.Now().Before(deadline); {
		select {
		case m := <-msgs:
			if m == "WATCHDOG=1" {
				pings++
			}
		case <-time.After(50 * time.Millisecond):
		}
	}
	if pings < 3 || pings > 8 {
		t.Fatalf("%d watchdog pings in 600 ms with WATCHDOG_USEC=200ms, want about 6", pings)
	}

	if code, body := p.do(t, "POST", "/cpu?seconds=30&load=1&workers=2"); code != 202 {
		t.Fatalf("POST /cpu: %d %s", code, body)
	}
	expect("STATUS=stress 1% x2 until ")
	if code, _ := p.do(t, "DELETE", "/cpu"); code != 200 {
		t.Fatalf("DELETE /cpu: %d", code)
	}
	expect("STATUS=idle")

	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if m := expect("STOPPING=1"); !strings.Contains(m, "STATUS=draining: signal terminated") {
		t.Fatalf("STOPPING message %q lacks the draining status", m)
	}
	if code := p.waitExit(t, 5*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
}

func TestNotifyIsNoopWithoutSocket(t *testing.T) {
	p := start(t, "WATCHDOG_USEC=200000")
	time.Sleep(300 * time.Millisecond)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.waitExit(t, 5*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(p.stdout.String(), "sd_notify failed") {
		t.Fatalf("notify errors without a socket:\n%s", p.stdout)
	}
}

// TestDrain: during the drain delay /health answers 503 DRAINING, and every answer, on a kept-alive
// connection too, says Connection: close and ends the connection, so clients (the ALB) reconnect, to
// other instances; then the process exits 0. (A request whose handler is still running at shutdown is
// tested in package app, with a handler slow on purpose.)
func TestDrain(t *testing.T) {
	p := start(t, "DRAIN_DELAY=600ms", "SHUTDOWN_TIMEOUT=5s")
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
	for time.Since(sigterm) < 500*time.Millisecond {
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
	case <-time.After(time.Until(sigterm.Add(500 * time.Millisecond))):
	}
	if code := p.waitExit(t, 3*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if took := time.Since(sigterm); took < 600*time.Millisecond {
		t.Fatalf("exited %s after SIGTERM, before DRAIN_DELAY=600ms", took)
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
	p.waitExit(t, 2*time.Second)
	if code, out := run(); code != 1 || !strings.Contains(out, "connection refused") {
		t.Fatalf("healthcheck with nothing listening: %d %q", code, out)
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

func TestOffEC2StartsFast(t *testing.T) {
	// An endpoint that accepts nothing: the identity falls back to local without delaying READY.
	dead := fmt.Sprintf("http://127.0.0.1:%d", localfleet.FreePort(t))
	t0 := time.Now()
	p := start(t, "IMDS_DISABLED=false", "IMDS_ENDPOINT="+dead)
	if took := time.Since(t0); took > time.Second {
		t.Fatalf("took %s to serve /health", took)
	}
	time.Sleep(400 * time.Millisecond)
	_, body := p.get(t, "/")
	if !strings.Contains(body, `"availability_zone": "local"`) {
		t.Fatalf("GET / off EC2: %s", body)
	}
}

func TestASGTerminationStartsDrain(t *testing.T) {
	url := metadataMock(t, "--asg-termination-delay-sec", "1", "-d", "600")
	p := start(t, "IMDS_DISABLED=false", "IMDS_ENDPOINT="+url, "DRAIN_DELAY=2s")
	// The watcher polls every 5 s; the mock turns Terminated after 1 s.
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
	if code := p.waitExit(t, 5*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(p.stdout.String(), "target lifecycle state is Terminated") {
		t.Fatalf("log does not say why it drained:\n%s", p.stdout)
	}
}
