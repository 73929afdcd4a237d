package scripts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scaleapp/scaleapp/internal/localfleet"
)

// TestInstallToolsRequirements runs scripts/install-tools.sh with a PATH of stand-ins only: each
// missing or too old requirement gets its own line, and nothing is installed.
func TestInstallToolsRequirements(t *testing.T) {
	script := filepath.Join(localfleet.RepoRoot(t), "scripts", "install-tools.sh")
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}
	standIn := func(dir, name, out string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\necho '"+out+"'\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name     string
		tools    map[string]string // stand-in -> its version output
		args     []string
		want     []string
		wantNone []string
	}{
		{
			name:  "a bare machine",
			tools: map[string]string{"apt-get": "", "dpkg": "", "git": "", "go": "go1.22.5", "terraform": "Terraform v1.9.8"},
			want: []string{"install-tools: missing make: not installed", "install-tools: missing Terraform >= 1.10: found 1.9.8",
				"install-tools: missing Go >= 1.26: found 1.22.5", "install-tools: missing Node.js >= 20: found none",
				"install-tools: missing npm: not installed", "install-tools: 5 requirement(s) missing; nothing was installed"},
			wantNone: []string{"missing git", "missing apt-get"},
		},
		{
			name: "Debian 12's own nodejs",
			tools: map[string]string{"apt-get": "", "dpkg": "", "git": "", "make": "", "go": "go1.26.0", "terraform": "Terraform v1.11.4\non linux_amd64",
				"node": "v18.19.0", "npm": "9.2.0"},
			want:     []string{"install-tools: missing Node.js >= 20: found 18.19.0 (npm-groovy-lint 16.2.0 needs it; Debian 12's nodejs is 18", "1 requirement(s) missing"},
			wantNone: []string{"missing Go", "missing Terraform", "missing npm", "missing make"},
		},
		{
			name:     "only the part asked for is checked",
			tools:    map[string]string{"go": "go1.25.9"},
			args:     []string{"go"},
			want:     []string{"install-tools: missing Go >= 1.26: found 1.25.9", "1 requirement(s) missing"},
			wantNone: []string{"missing Node", "missing make", "missing apt-get"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bin, tools := t.TempDir(), filepath.Join(t.TempDir(), "tools")
			for name, out := range c.tools {
				standIn(bin, name, out)
			}
			cmd := exec.Command(bash, append([]string{script}, c.args...)...)
			cmd.Env = []string{"PATH=" + bin, "HOME=" + t.TempDir(), "SCALEAPP_TOOLS=" + tools}
			out, err := cmd.CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 2 {
				t.Fatalf("err %v, want exit 2; output:\n%s", err, out)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, n := range c.wantNone {
				if strings.Contains(string(out), n) {
					t.Errorf("output holds %q:\n%s", n, out)
				}
			}
			if _, err := os.Stat(tools); err == nil {
				t.Errorf("the tool cache was created: the script went on installing")
			}
		})
	}
}
