package scripts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scaleapp/scaleapp/internal/localfleet"
)

// The AWS-facing scripts cannot run here (no AWS), but every refusal they make before touching AWS can:
// bad usage, a missing binary, and the guard that keeps Jenkins from planning against a local state the
// workspace cleanup would delete.
func TestDeliveryScriptsRefuseEarly(t *testing.T) {
	root := localfleet.RepoRoot(t)
	noBin := t.TempDir() // a checkout without bin/scaleapp: copy the scripts only
	if err := os.MkdirAll(filepath.Join(noBin, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"bake.sh", "image.sh", "terraform.sh"} {
		b, err := os.ReadFile(filepath.Join(root, "scripts", s))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(noBin, "scripts", s), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		dir  string
		env  []string
		args []string
		want string
	}{
		{"bake: no step", root, nil, []string{"scripts/bake.sh"}, "usage: scripts/bake.sh validate|build"},
		{"bake: no binary", noBin, nil, []string{"scripts/bake.sh", "build"}, "bin/scaleapp is missing: run 'make build' first"},
		{"bake: unknown step", root, nil, []string{"scripts/bake.sh", "publish"}, "unknown step 'publish'"},
		{"image: no step", root, nil, []string{"scripts/image.sh"}, "usage: scripts/image.sh build|run|push"},
		{"image: no binary", noBin, nil, []string{"scripts/image.sh", "build"}, "bin/scaleapp is missing"},
		{"image: unknown engine", root, []string{"ENGINE=nerdctl-missing"}, []string{"scripts/image.sh", "build"}, "neither podman nor docker is installed"},
		{"image: unknown step", root, nil, []string{"scripts/image.sh", "deploy"}, "unknown step 'deploy'"},
		{"terraform: no step", root, nil, []string{"scripts/terraform.sh"}, "usage: scripts/terraform.sh init|plan"},
		{"terraform: unknown step", root, nil, []string{"scripts/terraform.sh", "refresh"}, "unknown step 'refresh'"},
		{"terraform: apply without a plan", noBin, nil, []string{"scripts/terraform.sh", "apply"}, "dist/scaleapp.tfplan not found"},
		{"terraform: local state in Jenkins", noBin, []string{"JENKINS_URL=http://jenkins", "TF_STATE_BUCKET="}, []string{"scripts/terraform.sh", "plan"},
			"in Jenkins a local state would be wiped"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(c.args[0], c.args[1:]...)
			cmd.Dir = c.dir
			cmd.Env = append(os.Environ(), c.env...)
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != 2 || !strings.Contains(string(out), c.want) {
				t.Errorf("exit %d, output:\n%s\nwant exit 2 and %q", code, out, c.want)
			}
		})
	}
}
