package scripts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scaleapp/scaleapp/internal/localfleet"
)

// Recording stand-ins for the AWS CLI and the container engine, first on PATH. Every call is appended to
// $CALLS (one line: the program and its arguments). The registry is a directory: `push` creates
// $REGISTRY/TAG, `aws ecr describe-images` finds it there. `login` stores what it read on stdin in the
// auth file the script exported, as podman does; FAIL_PUSH=1 makes `push` fail after the login.
const awsStandIn = `#!/bin/sh
echo "aws $*" >>"$CALLS"
case "$1 $2" in
  "ecr get-login-password") echo "$ECR_TOKEN" ;;
  "ecr describe-images")
    tag=$(echo "$*" | sed -n 's/.*imageTag=\([^ ]*\).*/\1/p')
    [ -e "$REGISTRY/$tag" ] || { echo "ImageNotFoundException" >&2; exit 254; }
    echo "sha256:0123abcd" ;;
  *) echo "aws stand-in: unexpected $*" >&2; exit 99 ;;
esac
`

const engineStandIn = `#!/bin/sh
echo "podman $*" >>"$CALLS"
case "$1" in
  login)
    [ -n "$REGISTRY_AUTH_FILE" ] || { echo "no REGISTRY_AUTH_FILE" >&2; exit 98; }
    cat >"$REGISTRY_AUTH_FILE"
    ls "$(dirname "$REGISTRY_AUTH_FILE")" >"$AUTH_SEEN" ;;
  tag|logout) ;;
  push)
    [ -z "$FAIL_PUSH" ] || { echo "Error: writing blob: connection reset" >&2; exit 125; }
    touch "$REGISTRY/${2##*:}" ;;
  *) echo "podman stand-in: unexpected $*" >&2; exit 99 ;;
esac
`

// TestImagePushEndToEnd runs `scripts/image.sh push` for real against the stand-ins: a first push, a
// re-run once the tag exists, and a push that fails after the login. Each must end with the documented
// exit code and leave no registry auth file (it holds the ECR token) behind.
func TestImagePushEndToEnd(t *testing.T) {
	root := localfleet.RepoRoot(t)
	script, err := os.ReadFile(filepath.Join(root, "scripts", "image.sh"))
	if err != nil {
		t.Fatal(err)
	}
	const token = "ecr-token-d34db33f"
	cases := []struct {
		name      string
		repo      string // ECR_REPOSITORY_URL; "" = the eu-west-1 one
		tagExists bool
		failPush  bool
		wantCode  int
		wantOut   string
		wantCalls []string // in order
		noCalls   []string
	}{
		// The login's two sides run as one pipeline, so get-login-password and login may log in either order.
		{name: "first push", wantCode: 0, wantOut: "wrote dist/image.json",
			wantCalls: []string{"aws ecr describe-images", "podman login --username AWS --password-stdin 123456789012.dkr.ecr.eu-west-1.amazonaws.com",
				"podman tag scaleapp:v1.2.3 123456789012.dkr.ecr.eu-west-1.amazonaws.com/scaleapp:v1.2.3",
				"podman push 123456789012.dkr.ecr.eu-west-1.amazonaws.com/scaleapp:v1.2.3", "podman logout",
				"aws ecr describe-images"}},
		{name: "China partition", repo: "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/scaleapp", wantCode: 0, wantOut: "wrote dist/image.json",
			wantCalls: []string{"podman push 123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/scaleapp:v1.2.3"}},
		{name: "not an ECR repository", repo: "123456789012.dkr.ecr.eu-west-1.example.com/scaleapp", wantCode: 2, wantOut: "no ECR repository",
			wantCalls: []string{}, noCalls: []string{"aws", "podman"}},
		{name: "tag already pushed", tagExists: true, wantCode: 0, wantOut: "already exists and tags are immutable: not pushing again",
			wantCalls: []string{"aws ecr describe-images", "aws ecr describe-images"}, noCalls: []string{"podman login", "podman push"}},
		{name: "push fails after the login", failPush: true, wantCode: 125, wantOut: "connection reset",
			wantCalls: []string{"podman login", "podman push"}, noCalls: []string{"podman logout"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			checkout, bin, registry, tmp := filepath.Join(dir, "repo"), filepath.Join(dir, "bin"), filepath.Join(dir, "registry"), filepath.Join(dir, "tmp")
			for _, d := range []string{filepath.Join(checkout, "scripts"), bin, registry, tmp} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			write := func(path, body string) {
				if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			write(filepath.Join(checkout, "scripts", "image.sh"), string(script))
			write(filepath.Join(bin, "aws"), awsStandIn)
			write(filepath.Join(bin, "podman"), engineStandIn)
			if c.tagExists {
				write(filepath.Join(registry, "v1.2.3"), "")
			}
			calls, authSeen := filepath.Join(dir, "calls"), filepath.Join(dir, "auth-seen")

			repo := c.repo
			if repo == "" {
				repo = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/scaleapp"
			}
			cmd := exec.Command(filepath.Join(checkout, "scripts", "image.sh"), "push")
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "TMPDIR="+tmp, "CALLS="+calls, "REGISTRY="+registry,
				"AUTH_SEEN="+authSeen, "ECR_TOKEN="+token, "ENGINE=podman", "VERSION=v1.2.3", "COMMIT=abc1234", "AWS_REGION=cn-north-1",
				"ECR_REPOSITORY_URL="+repo, "FAIL_PUSH="+map[bool]string{true: "1"}[c.failPush])
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			t.Logf("output:\n%s", out)
			if code != c.wantCode || !strings.Contains(string(out), c.wantOut) {
				t.Errorf("exit %d, want %d and output with %q", code, c.wantCode, c.wantOut)
			}
			if strings.Contains(string(out), token) {
				t.Errorf("the ECR token shows in the output")
			}

			b, _ := os.ReadFile(calls)
			rec := string(b)
			if strings.Contains(rec, token) {
				t.Errorf("the ECR token was on a command line:\n%s", rec)
			}
			rest := rec
			for _, w := range c.wantCalls {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("calls lack %q (in order):\n%s", w, rec)
				}
				rest = rest[i+len(w):]
			}
			for _, n := range c.noCalls {
				if strings.Contains(rec, n) {
					t.Errorf("calls include %q:\n%s", n, rec)
				}
			}
			if strings.Contains(rec, "podman login") {
				if !strings.Contains(rec, "aws ecr get-login-password --region cn-north-1") {
					t.Errorf("logged in without aws ecr get-login-password:\n%s", rec)
				}
				// The login really wrote the token into the throw-away auth file...
				if seen, _ := os.ReadFile(authSeen); !strings.Contains(string(seen), "auth.json") {
					t.Errorf("the engine saw no auth.json in the auth directory (ls: %q)", seen)
				}
			}
			// ...and nothing of it is left once the script ended, whatever its exit.
			if left, _ := os.ReadDir(tmp); len(left) > 0 {
				t.Errorf("left behind in TMPDIR: %v", left)
			}
			if _, err := os.Stat(filepath.Join(checkout, "dist", "image.json")); (err == nil) != (c.wantCode == 0) {
				t.Errorf("dist/image.json present = %v, want %v", err == nil, c.wantCode == 0)
			}
		})
	}
}
