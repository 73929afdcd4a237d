// Package localfleet is test support for the service and the delivery scripts: it finds the tools and
// ports they need, and starts a small "fleet" on loopback: N real scaleapp processes, each with its own
// ec2-metadata-mock (AWS's IMDS simulator) so each reports its own instance id, behind a round-robin
// reverse proxy that stands in for the ALB.
package localfleet

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Instance is one scaleapp process and its metadata mock.
type Instance struct {
	ID  string // the instance id its mock serves
	URL string // http://127.0.0.1:PORT of the scaleapp process
	app *exec.Cmd
}

// Fleet is the running set and its proxy.
type Fleet struct {
	URL       string // the proxy: http://127.0.0.1:PORT
	Instances []*Instance
}

// Options tune Start.
type Options struct {
	Env []string // extra environment for every scaleapp process, e.g. STRESS_TOKEN=...
}

// RepoRoot is the directory of the root go.mod, found from the test's working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
		t.Fatalf("cannot find the repository's go.mod: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// BuildScaleapp builds the service into a temporary directory, the way `make build` does (static).
func BuildScaleapp(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "scaleapp")
	t0 := time.Now()
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./service/cmd/scaleapp")
	cmd.Dir = RepoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./service/cmd/scaleapp: %v\n%s", err, out)
	}
	t.Logf("built scaleapp in %v", time.Since(t0).Round(time.Millisecond))
	return bin
}

// MetadataMock finds ec2-metadata-mock on PATH or in the project's tool cache (scripts/install-tools.sh).
func MetadataMock(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("ec2-metadata-mock"); err == nil {
		return p
	}
	tools := os.Getenv("SCALEAPP_TOOLS")
	if tools == "" {
		home, _ := os.UserHomeDir()
		tools = filepath.Join(home, ".cache", "scaleapp-tools")
	}
	p := filepath.Join(tools, "bin", "ec2-metadata-mock")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("ec2-metadata-mock is not installed (looked on PATH and in %s): run scripts/install-tools.sh go", p)
	}
	return p
}

// FreePort asks the kernel for an unused loopback port.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs n instances with distinct ids (i-0local...1, ...2) behind a round-robin proxy. Everything
// is stopped when the test ends.
func Start(t testing.TB, bin string, n int, o Options) *Fleet {
	t.Helper()
	mock := MetadataMock(t)
	dir := t.TempDir()
	f := &Fleet{}
	for i := 1; i <= n; i++ {
		in := &Instance{ID: fmt.Sprintf("i-0local%010d", i)}
		imdsPort := startMock(t, mock, dir, in.ID)
		port := FreePort(t)
		in.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
		in.app = exec.Command(bin)
		in.app.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port),
			fmt.Sprintf("IMDS_ENDPOINT=http://127.0.0.1:%d", imdsPort), "LOG_LEVEL=warn")
		in.app.Env = append(in.app.Env, o.Env...)
		in.app.Stdout, in.app.Stderr = logWriter(t, in.ID), logWriter(t, in.ID)
		if err := in.app.Start(); err != nil {
			t.Fatalf("start scaleapp: %v", err)
		}
		app := in.app
		t.Cleanup(func() { stop(app) })
		waitFor(t, in.URL+"/health", "UP")
		f.Instances = append(f.Instances, in)
	}
	f.URL = roundRobin(t, f.Instances)
	return f
}

// Stop ends one instance now (SIGTERM, as an ASG would), so the proxy gets errors for it.
func (in *Instance) Stop() { stop(in.app) }

func stop(c *exec.Cmd) {
	if c.Process == nil || c.ProcessState != nil {
		return
	}
	_ = c.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = c.Process.Kill()
		<-done
	}
}

// startMock runs ec2-metadata-mock on a free port with a config file that overrides the instance id.
func startMock(t testing.TB, mock, dir, id string) int {
	t.Helper()
	cfg := filepath.Join(dir, id+".json")
	// The service reads the identity document; the plain instance-id path is what waitFor checks.
	doc := map[string]string{"instanceid": id, "availabilityzone": "local-1a", "imageid": "ami-0local", "instancetype": "t3.micro",
		"privateip": "127.0.0.1", "region": "local-1", "accountid": "000000000000", "architecture": "x86_64", "version": "2017-09-30"}
	body, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"values": map[string]string{"instance-id": id}},
		"dynamic":  map[string]any{"values": map[string]any{"instance-identity-document": doc}},
	})
	if err := os.WriteFile(cfg, body, 0o600); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	// The mock also serves a spot interruption notice, rebalance and ASG "Terminated" state from its
	// start, which make scaleapp drain and exit within seconds: push all of them a day away.
	day := fmt.Sprint(24 * 3600)
	cmd := exec.Command(mock, "-n", "127.0.0.1", "-p", fmt.Sprint(port), "-c", cfg,
		"--mock-delay-sec", day, "--rebalance-delay-sec", day, "--asg-termination-delay-sec", day)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard // it logs every request in full
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ec2-metadata-mock: %v", err)
	}
	t.Cleanup(func() { stop(cmd) })
	waitFor(t, fmt.Sprintf("http://127.0.0.1:%d/latest/meta-data/instance-id", port), id)
	return port
}

// waitFor polls url until it answers 200 with want as its body (bounded: 10 s).
func waitFor(t testing.TB, url, want string) {
	t.Helper()
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := c.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.TrimSpace(string(b)) == want {
				return
			}
			last = fmt.Sprintf("%d %q", resp.StatusCode, b)
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer %q within 10 s (last: %s)", url, want, last)
}

// roundRobin serves a reverse proxy over the instances, one request each in turn, like an ALB.
func roundRobin(t testing.TB, ins []*Instance) string {
	t.Helper()
	var next atomic.Uint64
	proxies := make([]*httputil.ReverseProxy, len(ins))
	for i, in := range ins {
		u, err := url.Parse(in.URL)
		if err != nil {
			t.Fatal(err)
		}
		proxies[i] = httputil.NewSingleHostReverseProxy(u)
		proxies[i].ErrorLog = nil
		proxies[i].ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, "502 Bad Gateway: "+err.Error(), http.StatusBadGateway) // what an ALB answers
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxies[(next.Add(1)-1)%uint64(len(proxies))].ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// logWriter sends a process's output to the test log, one line per write, prefixed.
func logWriter(t testing.TB, prefix string) io.Writer { return &tlog{t: t, prefix: prefix} }

type tlog struct {
	t      testing.TB
	prefix string
}

func (l *tlog) Write(p []byte) (int, error) {
	// Processes are reaped in t.Cleanup, so writes end before the test does; recover covers a late one.
	defer func() { _ = recover() }()
	l.t.Logf("[%s] %s", l.prefix, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
