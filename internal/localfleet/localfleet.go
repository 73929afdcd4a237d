// Package localfleet is test support for the service and the delivery scripts: it finds the tools and
// ports they need, and starts a small "fleet" on loopback: N real scaleapp processes, each with its own
// ec2-metadata-mock (AWS's IMDS simulator) so each reports its own instance id, behind a round-robin
// reverse proxy that stands in for the ALB. A test that plays the Auto Scaling group launches, registers,
// deregisters and stops instances while the proxy serves; the proxy can health-check them like an ALB.
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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Instance is one scaleapp process and its metadata mock.
type Instance struct {
	ID      string // the instance id its mock serves
	URL     string // http://127.0.0.1:PORT of the scaleapp process
	app     *exec.Cmd
	healthy atomic.Bool // what the proxy's last health check saw (Options.HealthCheck)
}

// Fleet is the running set and its proxy.
type Fleet struct {
	URL       string      // the proxy: http://127.0.0.1:PORT
	Instances []*Instance // every instance started, in launch order

	t        testing.TB
	bin, dir string
	opts     Options
	mu       sync.Mutex
	live     []*Instance // the proxy's rotation
}

// Options tune Start.
type Options struct {
	Env []string // extra environment for every scaleapp process, e.g. STRESS_TOKEN=...
	// HealthCheck > 0 makes the proxy GET every registered instance's /health at that interval and route
	// only to those that answered 200, like an ALB (to all of them when none did: ALBs fail open).
	// 0: plain round robin.
	HealthCheck time.Duration
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
	f := &Fleet{t: t, bin: bin, dir: t.TempDir(), opts: o}
	for range n {
		f.Register(f.Launch())
	}
	f.URL = f.serve()
	return f
}

// Launch starts one more instance with the next id and waits until its /health is UP and its / reports
// that id (the identity comes from its metadata mock a moment after the listener is up). It takes no
// traffic until Register: an ASG launches an instance first, then registers it with the target group.
func (f *Fleet) Launch() *Instance {
	t := f.t
	t.Helper()
	f.mu.Lock()
	in := &Instance{ID: fmt.Sprintf("i-0local%010d", len(f.Instances)+1)}
	f.Instances = append(f.Instances, in)
	f.mu.Unlock()
	imdsPort := startMock(t, MetadataMock(t), f.dir, in.ID)
	port := FreePort(t)
	in.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	in.app = exec.Command(f.bin)
	// Each asks its own mock, whatever the test's environment says (the AWS SDK honours
	// AWS_EC2_METADATA_DISABLED, which a test of AWS-facing code may set); the last value of a key wins.
	in.app.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port), fmt.Sprintf("IMDS_ENDPOINT=http://127.0.0.1:%d", imdsPort),
		"IMDS_DISABLED=false", "AWS_EC2_METADATA_DISABLED=false", "LOG_LEVEL=warn")
	in.app.Env = append(in.app.Env, f.opts.Env...)
	in.app.Stdout, in.app.Stderr = logWriter(t, in.ID), logWriter(t, in.ID)
	if err := in.app.Start(); err != nil {
		t.Fatalf("start scaleapp: %v", err)
	}
	app := in.app
	t.Cleanup(func() { stop(app) })
	waitFor(t, in.URL+"/health", "UP")
	waitFor(t, in.URL+"/", `"`+in.ID+`"`)
	in.healthy.Store(true)
	return in
}

// Register adds an instance to the proxy's rotation.
func (f *Fleet) Register(in *Instance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live = append(f.live, in)
}

// Deregister takes an instance out of the rotation; requests already sent to it still finish.
func (f *Fleet) Deregister(in *Instance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live = slices.DeleteFunc(f.live, func(x *Instance) bool { return x == in })
}

// targets is the rotation to pick from now: the healthy instances, or all when none is healthy.
func (f *Fleet) targets() []*Instance {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.opts.HealthCheck <= 0 {
		return slices.Clone(f.live)
	}
	var ok []*Instance
	for _, in := range f.live {
		if in.healthy.Load() {
			ok = append(ok, in)
		}
	}
	if len(ok) == 0 {
		return slices.Clone(f.live)
	}
	return ok
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

// waitFor polls url until it answers 200 with a body that contains want; 30 s leaves room for a busy
// machine.
func waitFor(t testing.TB, url, want string) {
	t.Helper()
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := c.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(b), want) {
				return
			}
			last = fmt.Sprintf("%d %q", resp.StatusCode, b)
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer %q within 30 s (last: %s)", url, want, last)
}

// serve runs the reverse proxy over the rotation, one request to each target in turn like an ALB, and
// the health checks when Options.HealthCheck asks for them.
func (f *Fleet) serve() string {
	t := f.t
	t.Helper()
	var next atomic.Uint64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ins := f.targets()
		if len(ins) == 0 {
			http.Error(w, "503 Service Unavailable: no registered target", http.StatusServiceUnavailable) // what an ALB answers
			return
		}
		u, err := url.Parse(ins[(next.Add(1)-1)%uint64(len(ins))].URL)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		p := httputil.NewSingleHostReverseProxy(u)
		p.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, "502 Bad Gateway: "+err.Error(), http.StatusBadGateway) // what an ALB answers
		}
		p.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	if f.opts.HealthCheck > 0 {
		done, stopped := make(chan struct{}), make(chan struct{})
		go f.checkHealth(done, stopped)
		t.Cleanup(func() { close(done); <-stopped })
	}
	return srv.URL
}

// checkHealth GETs every registered instance's /health each interval, as an ALB's health check does.
func (f *Fleet) checkHealth(done <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	c := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(f.opts.HealthCheck)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		f.mu.Lock()
		live := slices.Clone(f.live)
		f.mu.Unlock()
		for _, in := range live {
			resp, err := c.Get(in.URL + "/health")
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			in.healthy.Store(err == nil && resp.StatusCode == http.StatusOK)
		}
	}
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
