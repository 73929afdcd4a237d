// Package scripts_test runs the shell scripts in scripts/ against real local processes.
package scripts_test

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/scaleapp/scaleapp/internal/localfleet"
)

// smoke runs scripts/smoke.sh and returns its exit code and combined output.
func smoke(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(localfleet.RepoRoot(t), "scripts", "smoke.sh"), args...)
	cmd.Env = append(cmd.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	default:
		t.Fatalf("run smoke.sh: %v", err)
		return -1, ""
	}
}

func TestSmokeUsage(t *testing.T) {
	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"no URL", nil, nil, "usage: scripts/smoke.sh URL"},
		{"URL without scheme", nil, []string{"alb.example.com"}, "must start with http:// or https://"},
		{"N not a number", nil, []string{"http://alb", "ten"}, "N 'ten' must be a positive integer"},
		{"EXPECTED zero", nil, []string{"http://alb", "10", "0"}, "EXPECTED '0' must be a positive integer"},
		{"EXPECTED above N", nil, []string{"http://alb", "3", "4"}, "EXPECTED (4) cannot exceed N (3)"},
		{"bad wait", []string{"SMOKE_WAIT=soon"}, []string{"http://alb"}, "SMOKE_WAIT 'soon' must be a positive integer"},
		{"too many arguments", nil, []string{"http://alb", "1", "1", "1"}, "usage:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out := smoke(t, c.env, c.args...)
			if code != 2 || !strings.Contains(out, c.want) {
				t.Errorf("exit %d, output:\n%s\nwant exit 2 and %q", code, out, c.want)
			}
		})
	}
}

func TestSmokeAgainstLocalFleet(t *testing.T) {
	bin := localfleet.BuildScaleapp(t)
	f := localfleet.Start(t, bin, 2, localfleet.Options{})
	fast := []string{"SMOKE_WAIT=3", "SMOKE_INTERVAL=1"}

	t.Run("two instances answer", func(t *testing.T) {
		code, out := smoke(t, fast, f.URL, "10", "2")
		if code != 0 {
			t.Fatalf("exit %d, output:\n%s", code, out)
		}
		for _, want := range []string{"/health is UP", "10 requests to " + f.URL + "/: 2 distinct instance(s), 0 failed",
			"PASS"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		// Round robin over two instances: five each, one line per instance.
		for _, in := range f.Instances {
			if !regexp.MustCompile(`(?m)^  ` + in.ID + ` +5 requests$`).MatchString(out) {
				t.Errorf("output lacks the line for %s with 5 requests:\n%s", in.ID, out)
			}
		}
	})

	t.Run("fewer instances than expected", func(t *testing.T) {
		code, out := smoke(t, fast, f.URL, "10", "3")
		if code != 1 || !strings.Contains(out, "FAIL: 2 instance(s) answered, expected at least 3") {
			t.Errorf("exit %d, output:\n%s\nwant exit 1 and the shortfall", code, out)
		}
	})

	t.Run("nothing listening", func(t *testing.T) {
		url := "http://127.0.0.1:" + strconv.Itoa(localfleet.FreePort(t))
		code, out := smoke(t, []string{"SMOKE_WAIT=2", "SMOKE_INTERVAL=1"}, url)
		if code != 1 || !strings.Contains(out, "did not answer 200 UP within 2 s (last: no answer") {
			t.Errorf("exit %d, output:\n%s\nwant exit 1 after the bounded wait", code, out)
		}
	})

	t.Run("an instance goes away", func(t *testing.T) {
		f.Instances[1].Stop()
		code, out := smoke(t, fast, f.URL, "6", "1")
		if code != 1 || !strings.Contains(out, "HTTP 502 without an instance_id") || !strings.Contains(out, "FAIL: 3 of 6 requests failed") {
			t.Errorf("exit %d, output:\n%s\nwant exit 1 naming the 502s", code, out)
		}
		code, out = smoke(t, append(fast, "SMOKE_MAX_FAILED=3"), f.URL, "6", "1")
		if code != 0 {
			t.Errorf("with SMOKE_MAX_FAILED=3: exit %d, output:\n%s", code, out)
		}
	})
}
