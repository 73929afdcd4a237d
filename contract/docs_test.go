package contract

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// unitMention finds the unit a systemctl or journalctl command in the docs and scripts talks about.
var unitMention = regexp.MustCompile(`(?:systemctl\s+(?:status|show|restart|stop|start|enable|is-active)(?:\s+-p\s+\S+)?|journalctl\s+-u)\s+'?([A-Za-z][A-Za-z0-9@_.-]*)`)

// TestDocsNameTheContractUnit: every `systemctl status X` / `journalctl -u X` a person may paste from the
// READMEs, the Jenkinsfile or the scripts names the unit the image really installs.
func TestDocsNameTheContractUnit(t *testing.T) {
	files := []string{"../README.md", "../packer/README.md", "../terraform/README.md", "../Jenkinsfile"}
	scripts, _ := filepath.Glob("../scripts/*.sh")
	files = append(files, scripts...)
	base := strings.TrimSuffix(C.Unit, ".service")
	seen := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range unitMention.FindAllStringSubmatch(string(b), -1) {
			seen++
			name := strings.TrimSuffix(m[1], ".")
			if name == "docker" || name == "docker.service" { // the container path's runtime, not ours
				continue
			}
			if name != base && name != C.Unit {
				t.Errorf("%s: %q names unit %q; the unit is %s (contract.json)", f, m[0], name, C.Unit)
			}
		}
	}
	if seen < 3 {
		t.Fatalf("found only %d unit mentions: the pattern no longer matches the docs", seen)
	}
}

func TestUnitMentionPattern(t *testing.T) {
	cases := map[string]string{
		"sudo systemctl status scaleapp   # x":         "scaleapp",
		"systemctl show scaleapp -p NRestarts":         "scaleapp",
		"systemctl show -p NRestarts scaleapp.service": "scaleapp.service",
		"journalctl -u scaleapp -o cat | jq":           "scaleapp",
		"journalctl -u 'scaleapp.service' -n 100":      "scaleapp.service",
		"systemctl status scaleapp-app":                "scaleapp-app",
	}
	for in, want := range cases {
		m := unitMention.FindStringSubmatch(in)
		if m == nil || m[1] != want {
			t.Errorf("%q: got %v, want %q", in, m, want)
		}
	}
}
