package dashboard_test

// Browser tests: the real scaleapp binary (with ec2-metadata-mock identities, from internal/localfleet)
// and Debian's headless Chromium, driven over the DevTools protocol with chromedp. They wait for
// conditions with generous deadlines (a busy 2-core machine is slow), never for fixed times.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/scaleapp/scaleapp/internal/localfleet"
)

// wait is how long any condition may take to show on the page; polls run every second.
const wait = 45 * time.Second

var (
	buildOnce sync.Once
	binary    string
)

// scaleapp builds the binary once for every test of the package.
func scaleapp(t *testing.T) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "scaleapp-dashboard")
		if err != nil {
			t.Fatal(err)
		}
		binary = filepath.Join(dir, "scaleapp")
		cmd := exec.Command("go", "build", "-o", binary, "./service/cmd/scaleapp")
		cmd.Dir = localfleet.RepoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	})
	if binary == "" {
		t.Fatal("scaleapp did not build")
	}
	return binary
}

// artifacts is where screenshots go: test output kept for a person (and CI) to look at, ignored by git.
func artifacts(t *testing.T) string {
	dir := os.Getenv("SCALEAPP_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// page is one browser tab and what it reported.
type page struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	problems []string // exceptions, console errors, CSP refusals
	requests []*network.Request
}

// browser starts a fresh headless Chromium (its own profile) with one tab of width x height.
func browser(t *testing.T, width, height int) *page {
	t.Helper()
	exe, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: scripts/install-tools.sh apt (Debian package chromium)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(width, height))
	t.Cleanup(cancelAlloc)
	tctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(cancelTab)
	p := &page{t: t, ctx: tctx}
	if err := chromedp.Listen(tctx, p.record); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	p.do(chromedp.EmulateViewport(int64(width), int64(height)))
	return p
}

// record keeps what the tab reports; it runs in chromedp's reader loop, so it only appends.
func (p *page) record(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		p.problems = append(p.problems, "exception: "+e.ExceptionDetails.Text+" "+describe(e.ExceptionDetails.Exception))
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError {
			p.problems = append(p.problems, "console.error")
		}
	case *log.EventEntryAdded:
		// CSP refusals are logged here (source "security"); failed requests the page itself shows.
		if e.Entry.Level == log.EntryLevelError && e.Entry.Source != log.EntrySourceNetwork {
			p.problems = append(p.problems, fmt.Sprintf("%s: %s", e.Entry.Source, e.Entry.Text))
		}
	case *network.EventRequestWillBeSent:
		p.requests = append(p.requests, e.Request)
	}
}

func describe(o *runtime.RemoteObject) string {
	if o == nil {
		return ""
	}
	return o.Description
}

func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.fail("%v", err)
	}
}

// eval runs a JavaScript expression in the page.
func eval[T any](p *page, js string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		p.fail("evaluate %s: %v", js, err)
	}
	return v
}

// until waits for a JavaScript condition to hold.
func (p *page) until(what, js string) {
	p.t.Helper()
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(100*time.Millisecond),
		chromedp.WithPollingTimeout(wait))); err != nil {
		p.fail("waited %s for %s (%s): %v", wait, what, js, err)
	}
}

// fail ends the test with the page's text and a screenshot, which say more than the condition.
func (p *page) fail(format string, args ...any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if txt, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body.innerText")); err == nil {
		p.t.Logf("page text:\n%s", txt)
	}
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		name := filepath.Join(artifacts(p.t), strings.ReplaceAll(p.t.Name(), "/", "_")+"-failed.png")
		_ = os.WriteFile(name, png, 0o644)
		p.t.Logf("screenshot: %s", name)
	}
	p.t.Fatalf(format, args...)
}

// shot saves a full-page screenshot as a test artifact.
func (p *page) shot(name string) {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.fail("screenshot: %v", err)
	}
	path := filepath.Join(artifacts(p.t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot %s", path)
}

// clean fails the test if the page threw, logged an error or had something refused by the CSP.
func (p *page) clean() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.problems) > 0 {
		p.t.Fatalf("the page reported problems:\n%s", strings.Join(p.problems, "\n"))
	}
}

// start runs one scaleapp with its own metadata mock; env adds settings.
func start(t *testing.T, env ...string) *localfleet.Instance {
	f := localfleet.Start(t, scaleapp(t), 1, localfleet.Options{Env: env})
	return f.Instances[0]
}

func health(t *testing.T, base string) int {
	t.Helper()
	resp, err := http.Get(base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// lastProcessCPU is the newest point of the process series in the chart, in percent.
const lastProcessCPU = `(() => {
	const l = document.querySelector('polyline[data-series=process]');
	if (!l) return -1;
	const pts = l.getAttribute('points').trim().split(' ');
	return 100 - parseFloat(pts[pts.length - 1].split(',')[1]);
})()`

// TestDashboard: the page shows the instance, starts a job with the form, the process CPU rises in the
// chart, the job stops, and the failure toggle turns /health to 503 and back.
func TestDashboard(t *testing.T) {
	// Burners at normal priority, so the rise shows even when other work fills this machine's cores.
	in := start(t, "STRESS_ISOLATION=false", "STRESS_MAX_SECONDS=120", "CPU_STRESS_TIME=30")
	p := browser(t, 1280, 900)
	p.do(chromedp.Navigate(in.URL + "/"))
	p.until("the instance identity", fmt.Sprintf(`document.getElementById('i-id').textContent === %q && document.getElementById('served-by').textContent === %q`, in.ID, in.ID))
	p.until("the form limits from the server", `document.getElementById('seconds').max === '120' && document.getElementById('seconds').value === '30'`)
	p.until("a few CPU samples", `document.querySelectorAll('polyline[data-series=machine]').length === 1`)
	// Every control has a label or a text; the form refuses what the API refuses before sending it.
	if n := eval[int](p, `[...document.querySelectorAll('input')].filter(i => i.labels.length === 0).length +
		[...document.querySelectorAll('button')].filter(b => b.textContent.trim() === '').length`); n != 0 {
		p.fail("%d controls without a label", n)
	}
	if ok := eval[bool](p, `(() => { const l = document.getElementById('load'); l.value = '101'; const bad = !l.checkValidity();
		l.value = '0'; const bad0 = !l.checkValidity(); l.value = '100'; return bad && bad0 && l.checkValidity(); })()`); !ok {
		p.fail("the load field accepts values outside 1-100")
	}
	before := eval[float64](p, lastProcessCPU)

	// Keyboard: Enter in a field submits the form.
	// Four workers on this 2-CPU-or-more machine: a share that shows even when other work fills it.
	p.do(chromedp.SetValue(chromedp.ID("workers"), "4"), chromedp.Focus(chromedp.ID("workers")), chromedp.KeyEvent("\r"))
	p.until("the job to start", `document.getElementById('stress-msg').textContent.startsWith('Started job 1')`)
	p.until("the process CPU series to rise above 5%", lastProcessCPU+` > 5`)
	after := eval[float64](p, lastProcessCPU)
	t.Logf("process CPU in the chart: %.1f%% before the job, %.1f%% during it", before, after)
	p.until("the job in the list with its progress", `document.querySelector('#jobs progress') !== null && !document.getElementById('stop').disabled`)
	p.shot("dashboard-running")

	// A second start: the server refuses (409) and the page says so.
	p.do(chromedp.Click(chromedp.ID("start")))
	p.until("the 409", `document.getElementById('stress-msg').textContent.startsWith('409: a CPU stress job is already running')`)

	p.do(chromedp.Click(chromedp.ID("stop")))
	p.until("the job to stop", `document.getElementById('stress-msg').textContent.startsWith('Stopped job 1')`)
	p.until("the stopped job in the list", `document.getElementById('jobs').textContent.includes('stopped') && document.getElementById('stop').disabled`)

	p.do(chromedp.Click(chromedp.ID("fail")))
	p.until("the injected failure", `document.getElementById('i-health').textContent.startsWith('UNHEALTHY')`)
	if code := health(t, in.URL); code != 503 {
		p.fail("/health = %d after the failure toggle, want 503", code)
	}
	p.do(chromedp.Click(chromedp.ID("unfail")))
	p.until("the health back UP", `document.getElementById('i-health').textContent === 'UP'`)
	if code := health(t, in.URL); code != 200 {
		p.fail("/health = %d after clearing the failure, want 200", code)
	}
	// The page changed state with POST and DELETE only.
	p.mu.Lock()
	for _, r := range p.requests {
		if r.Method != http.MethodGet && r.Method != http.MethodPost && r.Method != http.MethodDelete {
			t.Errorf("unexpected %s %s", r.Method, r.URL)
		}
		if r.Method == http.MethodGet && (strings.Contains(r.URL, "/cpu?") || strings.HasSuffix(r.URL, "/cpu") || strings.Contains(r.URL, "/health/fail")) {
			t.Errorf("the page changed state with GET %s", r.URL)
		}
	}
	p.mu.Unlock()
	p.clean()
}

// TestDashboardToken: with STRESS_TOKEN set the page asks for it, a wrong one is a 401 the page
// handles (asks again), the right one is sent as a Bearer header, and it never appears in a URL.
func TestDashboardToken(t *testing.T) {
	const token = "s3cret-dashboard-token"
	in := start(t, "STRESS_TOKEN="+token, "STRESS_MAX_SECONDS=60", "CPU_STRESS_TIME=20")
	p := browser(t, 1280, 900)
	p.do(chromedp.Navigate(in.URL + "/"))
	p.until("the token prompt", `!document.getElementById('token-form').hidden`)
	p.shot("dashboard-token-prompt")

	p.do(chromedp.SendKeys(chromedp.ID("token"), "wrong-token"), chromedp.Click(chromedp.ID("token-use")))
	p.until("the prompt to close", `document.getElementById('token-form').hidden && sessionStorage.length === 1`)
	p.do(chromedp.Click(chromedp.ID("start")))
	p.until("the 401 handled", `document.getElementById('stress-msg').textContent.startsWith('401') &&
		!document.getElementById('token-form').hidden && document.getElementById('token-why').textContent.includes('refused') &&
		sessionStorage.length === 0`)

	p.do(chromedp.SendKeys(chromedp.ID("token"), token), chromedp.Click(chromedp.ID("token-use")))
	p.until("the token kept in the tab", fmt.Sprintf(`Object.values(sessionStorage).includes(%q)`, token))
	p.do(chromedp.SetValue(chromedp.ID("load"), "1"), chromedp.Click(chromedp.ID("start")))
	p.until("the job to start with the token", `document.getElementById('stress-msg').textContent.startsWith('Started job 1')`)
	p.do(chromedp.Click(chromedp.ID("stop")))
	p.until("the job to stop", `document.getElementById('stress-msg').textContent.startsWith('Stopped job 1')`)

	p.mu.Lock()
	defer p.mu.Unlock()
	bearer := 0
	for _, r := range p.requests {
		if strings.Contains(r.URL, token) || strings.Contains(r.URL, "wrong-token") {
			t.Errorf("a token in a URL: %s %s", r.Method, r.URL)
		}
		if h, _ := r.Headers["Authorization"].(string); h == "Bearer "+token && r.Method != http.MethodGet {
			bearer++
		}
	}
	if bearer != 2 {
		t.Errorf("%d POST/DELETE requests carried 'Authorization: Bearer <token>', want 2 (start and stop)", bearer)
	}
}

// TestThirdPartyPageCannotDrive: another site's page open in the same browser sends the requests the
// controls send (a no-cors POST, an image GET of /cpu, a form POST); none of them starts a job or fails
// the health check.
func TestThirdPartyPageCannotDrive(t *testing.T) {
	in := start(t)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>evil</title>
<form id="f" method="post" action="%[1]s/health/fail" target="sink"></form><iframe name="sink"></iframe>
<script>
const done = [];
const mark = (what) => { done.push(what); document.title = done.sort().join(","); };
fetch("%[1]s/cpu?seconds=60", {method: "POST", mode: "no-cors"}).then(() => mark("fetch"), () => mark("fetch"));
const img = new Image(); img.onload = img.onerror = () => mark("img"); img.src = "%[1]s/cpu?seconds=60";
document.querySelector("iframe").onload = () => mark("form");
document.getElementById("f").submit();
</script>`, in.URL)
	}))
	t.Cleanup(evil.Close)
	p := browser(t, 800, 600)
	// localhost and 127.0.0.1 are different sites to the browser.
	p.do(chromedp.Navigate(strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)))
	p.until("the three requests answered", `document.title === "fetch,form,img"`)
	resp, err := http.Get(in.URL + "/cpu/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct{ Job *struct{ ID int } }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.Job != nil {
		t.Fatalf("a third-party page started a job: %v %+v", err, st.Job)
	}
	if code := health(t, in.URL); code != 200 {
		t.Fatalf("a third-party page failed /health: %d", code)
	}
}

// TestDashboardStressDisabled: with STRESS_ENABLED=false the controls are hidden and the page says why;
// when the instance stops, the page says the connection is lost.
func TestDashboardStressDisabled(t *testing.T) {
	in := start(t, "STRESS_ENABLED=false")
	p := browser(t, 1280, 900)
	p.do(chromedp.Navigate(in.URL + "/"))
	p.until("the reason", `!document.getElementById('controls-off').hidden &&
		document.getElementById('controls-off').textContent.includes('STRESS_ENABLED=false')`)
	if visible := eval[bool](p, `document.getElementById('controls').checkVisibility() || document.getElementById('start').checkVisibility()`); visible {
		p.fail("stress controls visible with STRESS_ENABLED=false")
	}
	// The instance goes away: the page says so instead of showing stale figures as live.
	p.until("live", `document.getElementById('conn').textContent.startsWith('live')`)
	in.Stop()
	p.until("the connection problem shown", `document.getElementById('conn').textContent.startsWith('connection problem')`)
	p.clean()
}

// TestMachineCPUHidden: where /proc/stat cannot be read (a unit with ProcSubset=pid; here an empty file
// mounted over it in a private mount namespace, which needs root like the rest of the suite) the page
// leaves out the machine line and says why, and the process line goes on.
func TestMachineCPUHidden(t *testing.T) {
	port := localfleet.FreePort(t)
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
		`mount --bind /dev/null /proc/stat && exec "$0"`, scaleapp(t))
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port), "IMDS_DISABLED=true", "LOG_LEVEL=warn")
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("unshare (util-linux, as root): %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("scaleapp output:\n%s", out)
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(wait); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/health"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scaleapp under unshare did not serve within %s", wait)
		}
	}
	p := browser(t, 1280, 900)
	p.do(chromedp.Navigate(base + "/"))
	p.until("the reason shown", `!document.getElementById('cpu-note').hidden &&
		document.getElementById('cpu-note').textContent.includes('machine CPU unavailable: /proc/stat')`)
	p.until("the process line alone", `document.querySelectorAll('polyline[data-series=process]').length === 1 &&
		document.querySelectorAll('polyline[data-series=machine]').length === 0`)
	if legend := eval[string](p, `document.getElementById('legend').textContent`); !strings.Contains(legend, "machine n/a") {
		p.fail("legend %q does not say the machine value is missing", legend)
	}
	p.shot("dashboard-no-proc-stat")
	p.clean()
}

// TestDashboardNarrowDark: at 360 px in dark mode nothing is wider than the screen and the colours
// are the dark ones.
func TestDashboardNarrowDark(t *testing.T) {
	in := start(t)
	p := browser(t, 360, 800)
	if _, err := chromedp.Call(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatal(err)
	}
	p.do(chromedp.Navigate(in.URL + "/"))
	p.until("the instance identity", fmt.Sprintf(`document.getElementById('i-id').textContent === %q`, in.ID))
	p.until("a few CPU samples", `document.querySelectorAll('polyline').length >= 1`)
	if w := eval[int](p, `document.documentElement.scrollWidth`); w > 360 {
		p.fail("the page is %d px wide at a 360 px screen", w)
	}
	if bg := eval[string](p, `getComputedStyle(document.body).backgroundColor`); bg != "rgb(13, 17, 23)" {
		p.fail("body background %s in dark mode, want the dark rgb(13, 17, 23)", bg)
	}
	p.shot("dashboard-360-dark")
	p.clean()
}

// TestDashboardFleet: through a round-robin proxy over three instances (the ALB's role), the fleet
// panel lists all three, each with its zone and share, and the chart has a series for each.
func TestDashboardFleet(t *testing.T) {
	f := localfleet.Start(t, scaleapp(t), 3, localfleet.Options{Env: []string{"STRESS_ISOLATION=false"}})
	p := browser(t, 1280, 900)
	p.do(chromedp.Navigate(f.URL + "/"))
	p.until("three rows in the fleet panel", `document.querySelectorAll('#fleet-rows tr').length === 3`)
	text := eval[string](p, `document.getElementById('fleet-rows').innerText`)
	for _, in := range f.Instances {
		if !strings.Contains(text, in.ID) {
			p.fail("fleet panel lacks %s:\n%s", in.ID, text)
		}
	}
	if !strings.Contains(text, "local-1a") || !strings.Contains(text, "%") {
		p.fail("fleet panel lacks the zone or the share:\n%s", text)
	}
	p.until("a CPU series per instance", `new Set([...document.querySelectorAll('polyline[data-series=machine]')].map(l => l.dataset.instance)).size === 3`)
	// A job started through the proxy lands on one instance: the page shows it there, and that
	// instance's process series rises.
	p.do(chromedp.SetValue(chromedp.ID("workers"), "2"), chromedp.Click(chromedp.ID("start")))
	p.until("the job listed under one instance", `document.querySelectorAll('#jobs progress').length === 1`)
	job := eval[string](p, `document.getElementById('jobs').textContent`)
	p.until("that instance's process series to rise above 5%", `[...document.querySelectorAll('polyline[data-series=process]')].some(l =>
		`+"`${l.dataset.instance}:`"+` === document.getElementById('jobs').textContent.split(' ')[0] &&
		100 - parseFloat(l.getAttribute('points').trim().split(' ').pop().split(',')[1]) > 5)`)
	t.Logf("job: %s", job)
	p.shot("dashboard-fleet")
	p.clean()
}
