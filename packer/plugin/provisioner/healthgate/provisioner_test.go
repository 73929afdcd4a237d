package healthgate

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

type reply struct {
	stdout, stderr string
	exit           int
}

// instance scripts what a machine answers to the gate's commands. Each command is served by a
// fresh packersdk.MockCommunicator loaded with that command's reply, so output and exit codes travel
// exactly as the SDK's mock delivers them. Sequences advance per call; the last entry repeats.
type instance struct {
	packersdk.MockCommunicator // Upload/Download, unused by the gate

	uid        string
	restart    reply
	shows      []reply
	curls      []reply
	journal    string
	journalErr string // when set, journalctl prints it on stderr and exits 1
	stall      string // a command starting with this is started but never finishes (a hung SSH session)

	mu       sync.Mutex
	commands []string
	unknown  []string
	stalled  []*packersdk.RemoteCmd
}

func (in *instance) Start(ctx context.Context, rc *packersdk.RemoteCmd) error {
	in.mu.Lock()
	in.commands = append(in.commands, rc.Command)
	cmd := strings.TrimPrefix(rc.Command, "sudo -n ")
	if in.stall != "" && strings.HasPrefix(cmd, in.stall) {
		in.stalled = append(in.stalled, rc)
		in.mu.Unlock()
		return nil
	}
	r := in.answer(cmd)
	in.mu.Unlock()
	m := &packersdk.MockCommunicator{StartStdout: r.stdout, StartStderr: r.stderr, StartExitStatus: r.exit}
	return m.Start(ctx, rc)
}

func next(seq *[]reply) reply {
	r := (*seq)[0]
	if len(*seq) > 1 {
		*seq = (*seq)[1:]
	}
	return r
}

func (in *instance) answer(cmd string) reply {
	switch {
	case cmd == "id -u":
		return reply{stdout: in.uid + "\n"}
	case strings.HasPrefix(cmd, "systemctl restart "):
		return in.restart
	case strings.HasPrefix(cmd, "systemctl show "):
		return next(&in.shows)
	case strings.HasPrefix(cmd, "curl "):
		return next(&in.curls)
	case strings.HasPrefix(cmd, "journalctl ") && in.journalErr != "":
		return reply{stdout: in.journal, stderr: in.journalErr, exit: 1}
	case strings.HasPrefix(cmd, "journalctl "):
		return reply{stdout: in.journal}
	}
	in.unknown = append(in.unknown, cmd)
	return reply{stderr: "sh: " + cmd + ": not found", exit: 127}
}

func (in *instance) ran() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.commands...)
}

// show renders `systemctl show` output in systemd's own property order.
func show(active, sub, result string, restarts int) reply {
	return showFile(active, sub, result, restarts, "enabled")
}

func showFile(active, sub, result string, restarts int, fileState string) reply {
	return reply{stdout: fmt.Sprintf("Result=%s\nNRestarts=%d\nExecMainStartTimestampMonotonic=5000000\nActiveState=%s\nSubState=%s\nActiveEnterTimestampMonotonic=5048000\nUnitFileState=%s\n", result, restarts, active, sub, fileState)}
}

var (
	running     = show("active", "running", "success", 0)
	activating  = show("activating", "start", "success", 0)
	autoRestart = show("activating", "auto-restart", "exit-code", 1)
	failed      = show("failed", "failed", "exit-code", 0)
	up          = reply{stdout: "UP\n200 0.003120"}
	refused     = reply{stderr: "curl: (7) Failed to connect to 127.0.0.1 port 8080: Connection refused", exit: 7}
	journal     = "Nov 29 01:00:00 host scaleapp[412]: invalid PORT \"x\"\nNov 29 01:00:00 host systemd[1]: scaleapp.service: Main process exited, code=exited, status=2/INVALIDARGUMENT\n"
)

func prepared(t *testing.T, raw map[string]interface{}) *Provisioner {
	t.Helper()
	p := new(Provisioner)
	if err := p.Prepare(raw); err != nil {
		t.Fatalf("Prepare(%v): %v", raw, err)
	}
	return p
}

func said(ui *packersdk.MockUi) string {
	var b strings.Builder
	for _, m := range ui.SayMessages {
		b.WriteString(m.Message + "\n")
	}
	return b.String()
}

func TestProvision(t *testing.T) {
	cases := []struct {
		name    string
		config  map[string]interface{}
		in      *instance
		wantErr string   // "" means the gate passes
		wantSay []string // substrings of the UI output
		wantCmd []string // commands that must have run
	}{
		{
			name:    "healthy",
			in:      &instance{uid: "0", shows: []reply{activating, running}, curls: []reply{up}},
			wantSay: []string{"unit active/running after", "NRestarts=0, enabled", "main process start to active in 48.0 ms", "GET http://127.0.0.1:8080/health -> 200 UP in 3 ms", "Health gate passed"},
			wantCmd: []string{"systemctl restart 'scaleapp.service'", "curl -sS --noproxy '*' --max-time"},
		},
		{
			// Running after the gate's own restart proves nothing about boot.
			name:    "running but not enabled",
			in:      &instance{uid: "0", shows: []reply{showFile("active", "running", "success", 0, "disabled")}, curls: []reply{up}, journal: journal},
			wantErr: "unit is not enabled (UnitFileState=disabled): an instance booted from this image would not start it",
		},
		{
			name:    "enabled only until the next boot",
			in:      &instance{uid: "0", shows: []reply{showFile("active", "running", "success", 0, "enabled-runtime")}, curls: []reply{up}, journal: journal},
			wantErr: "unit is not enabled (UnitFileState=enabled-runtime)",
		},
		{
			name:    "not listening at first, then healthy",
			in:      &instance{uid: "0", shows: []reply{running}, curls: []reply{refused, refused, up}},
			wantSay: []string{"-> 200 UP", "Health gate passed"},
		},
		{
			name:    "non-root user goes through sudo for systemctl and journalctl",
			config:  map[string]interface{}{"unit": "other.service"},
			in:      &instance{uid: "1000", shows: []reply{failed}, journal: journal},
			wantErr: "unit failed",
			wantCmd: []string{"sudo -n systemctl restart 'other.service'", "sudo -n journalctl -u 'other.service' -n 100 --no-pager"},
		},
		{
			name:    "never active times out",
			config:  map[string]interface{}{"ready_timeout": "300ms"},
			in:      &instance{uid: "0", shows: []reply{activating}, journal: journal},
			wantErr: "did not reach active/running (last state activating/start Result=success NRestarts=0): context deadline exceeded (ready_timeout 300ms)",
		},
		{
			name:    "crash loop: NRestarts>0",
			in:      &instance{uid: "0", shows: []reply{autoRestart}, journal: journal},
			wantErr: "crash-looping: activating/auto-restart Result=exit-code NRestarts=1",
		},
		{
			name:    "failed unit",
			in:      &instance{uid: "0", shows: []reply{failed}, journal: journal},
			wantErr: "unit failed: failed/failed Result=exit-code",
		},
		{
			name:    "exited cleanly instead of running",
			in:      &instance{uid: "0", shows: []reply{show("inactive", "dead", "success", 0)}, journal: journal},
			wantErr: "unit is not running: inactive/dead",
		},
		{
			name:    "restart refused",
			in:      &instance{uid: "0", restart: reply{stderr: "Failed to restart scaleapp.service: Unit scaleapp.service not found.\n", exit: 5}, journal: "-- No entries --\n"},
			wantErr: "systemctl restart exited 5: Failed to restart scaleapp.service: Unit scaleapp.service not found.",
			wantSay: []string{"-- No entries --"},
		},
		{
			name:    "wrong body",
			in:      &instance{uid: "0", shows: []reply{running}, curls: []reply{{stdout: "DOWN\n200 0.002"}}, journal: journal},
			wantErr: `GET http://127.0.0.1:8080/health -> 200 "DOWN", want 200 "UP"`,
		},
		{
			name:    "body with a trailing newline is not an exact match",
			in:      &instance{uid: "0", shows: []reply{running}, curls: []reply{{stdout: "UP\n\n200 0.002"}}, journal: journal},
			wantErr: `-> 200 "UP\n", want 200 "UP"`,
		},
		{
			name:    "non-200",
			in:      &instance{uid: "0", shows: []reply{running}, curls: []reply{{stdout: "DRAINING\n503 0.001"}}, journal: journal},
			wantErr: `-> 503 "DRAINING", want 200 "UP"`,
		},
		{
			name:    "custom url and body",
			config:  map[string]interface{}{"url": "http://127.0.0.1:9090/ready", "expected_body": "ready"},
			in:      &instance{uid: "0", shows: []reply{running}, curls: []reply{{stdout: "ready\n200 0.001"}}},
			wantSay: []string{"GET http://127.0.0.1:9090/ready -> 200 ready in 1 ms"},
			wantCmd: []string{"'http://127.0.0.1:9090/ready'"},
		},
		{
			name:    "never listening times out",
			config:  map[string]interface{}{"ready_timeout": "300ms"},
			in:      &instance{uid: "0", shows: []reply{running}, curls: []reply{refused}, journal: journal},
			wantErr: "no answer (last: curl exited 7: curl: (7) Failed to connect",
		},
		{
			name:    "no curl on the instance",
			in:      &instance{uid: "0", shows: []reply{running}, curls: []reply{{stderr: "sh: 1: curl: not found", exit: 127}}, journal: journal},
			wantErr: "curl is not installed on the instance",
		},
		{
			name:    "crashes right after answering",
			in:      &instance{uid: "0", shows: []reply{running, autoRestart}, curls: []reply{up}, journal: journal},
			wantErr: "unit changed after the health check: activating/auto-restart",
		},
		{
			name:    "main process failed while still activating",
			in:      &instance{uid: "0", shows: []reply{show("activating", "start", "exit-code", 0)}, journal: journal},
			wantErr: "unit's main process ended abnormally: activating/start Result=exit-code NRestarts=0",
		},
		{
			name:    "journalctl itself fails",
			in:      &instance{uid: "0", shows: []reply{failed}, journalErr: "No journal files were found."},
			wantErr: "unit failed",
			wantSay: []string{"(journalctl exited 1: No journal files were found.)"},
		},
		{
			name:    "journal_lines is honoured",
			config:  map[string]interface{}{"journal_lines": 7},
			in:      &instance{uid: "0", shows: []reply{failed}, journal: journal},
			wantErr: "unit failed",
			wantCmd: []string{"journalctl -u 'scaleapp.service' -n 7 --no-pager"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := prepared(t, tc.config)
			ui := &packersdk.MockUi{}
			in := tc.in
			start := time.Now()
			err := p.Provision(context.Background(), ui, in, nil)
			out := said(ui)
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("gate took %s; every case here must finish well inside its timeout", elapsed)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Provision: %v\nUI:\n%s", err, out)
				}
				if strings.Contains(out, "journalctl") {
					t.Errorf("journal printed although the gate passed:\n%s", out)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Provision error = %v, want it to contain %q\nUI:\n%s", err, tc.wantErr, out)
				}
				if !strings.Contains(err.Error(), "journal excerpt printed above") {
					t.Errorf("error %q does not point at the journal excerpt", err)
				}
				// Every failure prints the journal: header, the unit's lines, trailer.
				want := []string{"---- journalctl -u", "---- end of journal excerpt ----"}
				want = append(want, lines(in.journal)...)
				for _, w := range want {
					if !strings.Contains(out, w) {
						t.Errorf("UI output lacks %q:\n%s", w, out)
					}
				}
			}
			for _, w := range tc.wantSay {
				if !strings.Contains(out, w) {
					t.Errorf("UI output lacks %q:\n%s", w, out)
				}
			}
			cmds := strings.Join(in.ran(), "\n")
			for _, w := range tc.wantCmd {
				if !strings.Contains(cmds, w) {
					t.Errorf("no command contains %q; ran:\n%s", w, cmds)
				}
			}
			in.mu.Lock()
			if len(in.unknown) > 0 {
				t.Errorf("the gate ran commands the script does not know: %q", in.unknown)
			}
			in.mu.Unlock()
		})
	}
}

// The restart must come first, before any state is read: a re-provisioned machine must run the unit
// file and binary just installed, not the ones it booted with.
func TestProvisionRestartsBeforePolling(t *testing.T) {
	p := prepared(t, nil)
	in := &instance{uid: "0", shows: []reply{running}, curls: []reply{up}}
	if err := p.Provision(context.Background(), &packersdk.MockUi{}, in, nil); err != nil {
		t.Fatal(err)
	}
	got := in.ran()
	if len(got) < 3 || got[0] != "id -u" || got[1] != "systemctl restart 'scaleapp.service'" || !strings.HasPrefix(got[2], "systemctl show -p ActiveState,SubState,NRestarts,Result,") {
		t.Fatalf("commands ran in the wrong order:\n%s", strings.Join(got, "\n"))
	}
}

func TestProvisionHonoursCancellation(t *testing.T) {
	p := prepared(t, map[string]interface{}{"ready_timeout": "1m"})
	in := &instance{uid: "0", shows: []reply{activating}}
	// Packer's own provisioner timeout reaches a plugin as a plain cancel.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	ui := &packersdk.MockUi{}
	start := time.Now()
	err := p.Provision(ctx, ui, in, nil)
	if err == nil || !strings.Contains(err.Error(), "context canceled (cancelled by packer: its provisioner timeout or an interrupt)") {
		t.Fatalf("Provision = %v, want the cancellation named", err)
	}
	if strings.Contains(err.Error(), "ready_timeout") {
		t.Errorf("error %q blames ready_timeout for packer's cancellation", err)
	}
	if !strings.Contains(said(ui), "---- end of journal excerpt ----") {
		t.Errorf("no journal excerpt after a cancel:\n%s", said(ui))
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("cancelled gate took %s", time.Since(start))
	}
}

// A command whose SSH session hangs (it never exits) must end at ready_timeout, not at Packer's
// own timeout, and the journal, on a budget of its own, is still printed.
func TestProvisionStalledCommandEndsAtReadyTimeout(t *testing.T) {
	cases := []struct {
		stall, uid, wantErr, wantJournal string
	}{
		{"id -u", "0", `id -u: "id -u" did not finish`, "journalctl -u"},
		// The uid is unknown when id -u stalls, so the journal is read without sudo.
		{"id -u", "1000", `id -u: "id -u" did not finish`, "\njournalctl -u"},
		{"systemctl restart ", "1000", `systemctl restart: "sudo -n systemctl restart 'scaleapp.service'" did not finish`, "sudo -n journalctl -u"},
		{"systemctl show ", "0", "unit did not reach active/running (last state never read)", "journalctl -u"},
		{"curl ", "0", "GET http://127.0.0.1:8080/health: \"curl -sS", "journalctl -u"},
	}
	for _, tc := range cases {
		t.Run(tc.stall+" as uid "+tc.uid, func(t *testing.T) {
			in := &instance{uid: tc.uid, stall: tc.stall, shows: []reply{running}, curls: []reply{up}, journal: journal}
			t.Cleanup(func() { // release the goroutines still waiting on the stalled commands
				in.mu.Lock()
				defer in.mu.Unlock()
				for _, rc := range in.stalled {
					rc.SetExited(packersdk.CmdDisconnect)
				}
			})
			p := prepared(t, map[string]interface{}{"ready_timeout": "300ms"})
			ui := &packersdk.MockUi{}
			// Stands in for Packer's own timeout, so a gate that ignores ready_timeout fails rather than hangs.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			err := p.Provision(ctx, ui, in, nil)
			elapsed := time.Since(start)
			out := said(ui)
			if elapsed > time.Second {
				t.Errorf("gate returned after %s, want about ready_timeout (300ms)", elapsed)
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "context deadline exceeded (ready_timeout 300ms)") {
				t.Fatalf("Provision = %v, want %q and the ready_timeout named\nUI:\n%s", err, tc.wantErr, out)
			}
			for _, w := range append(lines(journal), "---- end of journal excerpt ----") {
				if !strings.Contains(out, w) {
					t.Errorf("UI output lacks %q:\n%s", w, out)
				}
			}
			if cmds := "\n" + strings.Join(in.ran(), "\n"); !strings.Contains(cmds, tc.wantJournal) {
				t.Errorf("no command contains %q; ran:%s", tc.wantJournal, cmds)
			}
		})
	}
}

func TestParseShowRejects(t *testing.T) {
	cases := []struct{ name, out, want string }{
		{"NRestarts missing", "ActiveState=active\nSubState=running\nResult=success\n", "systemctl show printed no NRestarts"},
		{"NRestarts not a number", "ActiveState=active\nSubState=running\nResult=success\nNRestarts=[not set]\nUnitFileState=enabled\n", `NRestarts="[not set]" is not a number`},
		{"UnitFileState missing", "ActiveState=active\nSubState=running\nResult=success\nNRestarts=0\n", "systemctl show printed no UnitFileState"},
		{"empty output", "", "systemctl show printed no ActiveState"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if st, err := parseShow(tc.out); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("parseShow(%q) = %v, %v; want an error containing %q", tc.out, st, err, tc.want)
			}
		})
	}
}

func TestProvisionNeedsACommunicator(t *testing.T) {
	err := prepared(t, nil).Provision(context.Background(), &packersdk.MockUi{}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), `the build has no communicator (communicator = "none"?)`) {
		t.Fatalf("Provision without communicator = %v", err)
	}
}

// Packer hands plugins an RPC communicator even with communicator = "none"; it runs nothing and
// prints nothing.
func TestProvisionWithAnEmptyCommunicator(t *testing.T) {
	in := &instance{uid: ""}
	err := prepared(t, nil).Provision(context.Background(), &packersdk.MockUi{}, in, nil)
	if err == nil || !strings.Contains(err.Error(), `id -u printed nothing: the build has no working communicator (communicator = "none"?)`) {
		t.Fatalf("Provision = %v", err)
	}
	if got := in.ran(); len(got) != 1 {
		t.Errorf("ran %q after id -u printed nothing; with no communicator there is no journal to read", got)
	}
}

func TestParseCurlRejectsGarbage(t *testing.T) {
	for _, out := range []string{"", "UP", "UP\n200", "UP\nabc 0.1", "UP\n200 fast"} {
		if h, err := parseCurl(out); err == nil {
			t.Errorf("parseCurl(%q) = %+v, want an error", out, h)
		}
	}
	h, err := parseCurl("UP\n200 0,004")
	if err != nil || h.status != 200 || h.body != "UP" || h.elapsed != 4*time.Millisecond {
		t.Errorf("parseCurl with a decimal comma = %+v, %v", h, err)
	}
}
