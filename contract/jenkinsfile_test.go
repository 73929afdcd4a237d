package contract

// The Jenkinsfile's `sh` steps must each call a Makefile target or a script of this repository that
// exists, so every pipeline stage can be run by hand and a renamed script breaks CI here, not in Jenkins.
// npm-groovy-lint (scripts/lint-jenkinsfile.sh) checks the Groovy; it cannot know our file names.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// jenkinsShStep finds an sh step: `sh 'x'`, `sh(script: 'x', ...)`, `sh script: 'x'`, with any quotes.
var jenkinsShStep = regexp.MustCompile(`(?m)(?:^|[\s{;(])sh(?:\s+|\s*\(\s*)(?:script\s*:\s*)?`)

// jenkinsShSteps returns the script of every sh step, scanning left to right and resuming after each
// string, so text inside a script is never taken for a step. Triple-quoted strings are handled; a
// double-quoted script is returned with its quotes kept, so the caller can refuse Groovy interpolation
// (which would put values, secrets included, into the script text).
func jenkinsShSteps(src string) ([]string, error) {
	var steps []string
	for pos := 0; pos < len(src); {
		m := jenkinsShStep.FindStringIndex(src[pos:])
		if m == nil {
			break
		}
		at, rest := pos+m[0], src[pos+m[1]:]
		pos += m[1]
		line := src[strings.LastIndex(src[:at+1], "\n")+1 : at+1]
		if strings.Contains(line, "//") {
			continue // in a comment
		}
		var q string
		for _, cand := range []string{"'''", `"""`, "'", `"`} {
			if strings.HasPrefix(rest, cand) {
				q = cand
				break
			}
		}
		if q == "" {
			return nil, fmt.Errorf("an sh step without a string literal at %q", firstLine(strings.TrimSpace(src[at:])))
		}
		end := strings.Index(rest[len(q):], q)
		if end < 0 {
			return nil, fmt.Errorf("unterminated sh string at %q", firstLine(strings.TrimSpace(src[at:])))
		}
		body := rest[len(q) : len(q)+end]
		pos += len(q) + end + len(q)
		if strings.HasPrefix(q, `"`) {
			body = `"` + body + `"`
		}
		steps = append(steps, body)
	}
	return steps, nil
}

// makeTargets lists the targets a Makefile defines ("name:" at the start of a line).
func makeTargets(makefile string) map[string]bool {
	targets := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([A-Za-z0-9][A-Za-z0-9_.-]*)\s*:([^=]|$)`).FindAllStringSubmatch(makefile, -1) {
		targets[m[1]] = true
	}
	return targets
}

var (
	makeCall   = regexp.MustCompile(`(?:^|[;&|(\s])make((?:\s+[^\s;&|)]+)*)`)
	scriptCall = regexp.MustCompile(`(?:^|[\s;&|("'$])((?:\./)?(?:scripts|packer|container|terraform)/[A-Za-z0-9_./-]+\.sh)\b`)
)

// checkShStep returns what is wrong with one step: Groovy interpolation, a missing Makefile target or
// script, or a step that calls neither.
func checkShStep(step string, targets map[string]bool, root string) []error {
	var errs []error
	if strings.HasPrefix(step, `"`) {
		errs = append(errs, fmt.Errorf("sh %s: use single quotes, so the shell (not Groovy) expands variables", step))
		step = strings.Trim(step, `"`)
	}
	refs := 0
	for _, m := range makeCall.FindAllStringSubmatch(step, -1) {
		for _, arg := range strings.Fields(m[1]) {
			if strings.HasPrefix(arg, "-") || strings.Contains(arg, "=") {
				continue // a flag or a variable override
			}
			refs++
			if !targets[arg] {
				errs = append(errs, fmt.Errorf("sh '%s': the Makefile has no target %q", step, arg))
			}
		}
	}
	for _, m := range scriptCall.FindAllStringSubmatch(step, -1) {
		refs++
		info, err := os.Stat(filepath.Join(root, m[1]))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("sh '%s': %s does not exist", step, m[1]))
		case info.Mode()&0o111 == 0:
			errs = append(errs, fmt.Errorf("sh '%s': %s is not executable", step, m[1]))
		}
	}
	if refs == 0 {
		errs = append(errs, fmt.Errorf("sh '%s' calls neither a Makefile target nor a script of the repository", step))
	}
	return errs
}

func checkJenkinsfile(src string, targets map[string]bool, root string) (int, []error) {
	steps, err := jenkinsShSteps(src)
	if err != nil {
		return 0, []error{err}
	}
	var errs []error
	for _, s := range steps {
		errs = append(errs, checkShStep(s, targets, root)...)
	}
	return len(steps), errs
}

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestJenkinsfileShStepsExist(t *testing.T) {
	src := readRepoFile(t, "Jenkinsfile")
	targets := makeTargets(readRepoFile(t, "Makefile"))
	n, errs := checkJenkinsfile(src, targets, "..")
	for _, err := range errs {
		t.Error(err)
	}
	// Every `sh '` in the file was parsed: a step the parser skipped would be a step nobody checked.
	if want := strings.Count(src, "sh '"); n != want || n < 10 {
		t.Errorf("parsed %d sh steps, the file has %d `sh '` (and the pipeline at least 10)", n, want)
	}
}

func TestJenkinsfileCheckCatchesBadSteps(t *testing.T) {
	targets := makeTargets("build: ## x\n\tgo build\ntest: tools\n.PHONY: build\nVERSION := 1\nFOO ?= bar\n")
	if len(targets) != 2 || !targets["build"] || !targets["test"] {
		t.Fatalf("makeTargets = %v, want build and test only", targets)
	}
	root := t.TempDir()
	for name, mode := range map[string]os.FileMode{"scripts/ok.sh": 0o755, "scripts/plain.sh": 0o644} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name, jenkinsfile, want string // want: substring of the error; "" = clean
	}{
		{"make target", "steps { sh 'make build' }", ""},
		{"make with overrides", "sh 'make -s build VERSION=1 test'", ""},
		{"script in a substitution", `sh 'scripts/ok.sh "$(scripts/ok.sh x)" 20'`, ""},
		{"parenthesised form", "sh(script: 'scripts/ok.sh', returnStdout: true)", ""},
		{"triple quotes", "sh '''\nmake build\n'''", ""},
		{"comment is not a step", "// sh 'make nothing'\nsh 'make test'", ""},
		{"bogus make target", "sh 'make deploy'", `the Makefile has no target "deploy"`},
		{"bogus script", "sh 'scripts/deploy.sh apply'", "scripts/deploy.sh does not exist"},
		{"script not executable", "sh 'scripts/plain.sh'", "scripts/plain.sh is not executable"},
		{"neither", "sh 'terraform apply -auto-approve'", "calls neither a Makefile target nor a script"},
		{"groovy interpolation", `sh "make ${params.TARGET}"`, "use single quotes"},
		{"no literal", "sh cmd", "without a string literal"},
		{"unterminated", "sh 'make build", "unterminated sh string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errs := checkJenkinsfile(c.jenkinsfile, targets, root)
			if c.want == "" {
				for _, err := range errs {
					t.Errorf("unexpected: %v", err)
				}
				return
			}
			found := false
			for _, err := range errs {
				found = found || strings.Contains(err.Error(), c.want)
			}
			if !found {
				t.Errorf("errors %v, want one with %q", errs, c.want)
			}
		})
	}
}

// The real Jenkinsfile with one step renamed must fail: the check is wired to the file it guards.
func TestJenkinsfileCheckFailsOnRealFileWithBogusStep(t *testing.T) {
	src := strings.Replace(readRepoFile(t, "Jenkinsfile"), "sh 'scripts/terraform.sh apply'", "sh 'scripts/terraform-apply.sh'", 1)
	src = strings.Replace(src, "sh 'make build'", "sh 'make no-such-target'", 1)
	_, errs := checkJenkinsfile(src, makeTargets(readRepoFile(t, "Makefile")), "..")
	joined := fmt.Sprint(errs)
	if !strings.Contains(joined, "scripts/terraform-apply.sh does not exist") || !strings.Contains(joined, `no target "no-such-target"`) {
		t.Errorf("errors %v, want both bogus references reported", errs)
	}
}

// jenkinsArchive finds an archiveArtifacts step's includes; the statement runs on while lines end in ",".
var jenkinsArchive = regexp.MustCompile(`archiveArtifacts\s*\(?\s*artifacts\s*:\s*'([^']*)'`)

// antMatch reports whether one of the comma-separated Ant patterns matches path (*, ** and ? only).
func antMatch(patterns, path string) bool {
	for _, p := range strings.Split(patterns, ",") {
		var re strings.Builder
		p = strings.TrimSpace(p)
		for i := 0; i < len(p); i++ {
			switch {
			case strings.HasPrefix(p[i:], "**"):
				re.WriteString(".*")
				i++
			case p[i] == '*':
				re.WriteString("[^/]*")
			case p[i] == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(p[i : i+1]))
			}
		}
		if p != "" && regexp.MustCompile("^"+re.String()+"$").MatchString(path) {
			return true
		}
	}
	return false
}

// archivedSecrets returns the archiveArtifacts steps that would archive path (not excluded).
func archivedSecrets(src, path string) []string {
	var bad []string
	for _, m := range jenkinsArchive.FindAllStringSubmatchIndex(src, -1) {
		stmt := src[m[0]:]
		for end := 0; ; {
			nl := strings.IndexByte(stmt[end:], '\n')
			if nl < 0 {
				break
			}
			if !strings.HasSuffix(strings.TrimSpace(stmt[:end+nl]), ",") {
				stmt = stmt[:end+nl]
				break
			}
			end += nl + 1
		}
		excludes := ""
		if x := regexp.MustCompile(`excludes\s*:\s*'([^']*)'`).FindStringSubmatch(stmt); x != nil {
			excludes = x[1]
		}
		if antMatch(src[m[2]:m[3]], path) && !antMatch(excludes, path) {
			bad = append(bad, firstLine(strings.TrimSpace(stmt)))
		}
	}
	return bad
}

// A saved Terraform plan holds sensitive variables in clear (scripts/terraform.sh writes it to
// dist/scaleapp.tfplan): it must stay in the workspace, never become a build artifact.
func TestJenkinsfileDoesNotArchiveTheBinaryPlan(t *testing.T) {
	const plan = "dist/scaleapp.tfplan"
	if !strings.Contains(readRepoFile(t, "scripts/terraform.sh"), "PLAN=$DIST/scaleapp.tfplan") {
		t.Fatalf("scripts/terraform.sh no longer saves the plan as %s: update this test", plan)
	}
	src := readRepoFile(t, "Jenkinsfile")
	if n := len(jenkinsArchive.FindAllString(src, -1)); n != strings.Count(src, "archiveArtifacts") || n < 2 {
		t.Fatalf("parsed %d archiveArtifacts steps, the file has %d", n, strings.Count(src, "archiveArtifacts"))
	}
	for _, step := range archivedSecrets(src, plan) {
		t.Errorf("%s archives %s", step, plan)
	}
	cases := []struct {
		jenkinsfile string
		bad         bool
	}{
		{"archiveArtifacts artifacts: 'dist/scaleapp.tfplan*, dist/tfplan.txt', allowEmptyArchive: true,\n    fingerprint: true", true},
		{"archiveArtifacts artifacts: 'dist/**', allowEmptyArchive: true", true},
		{"archiveArtifacts artifacts: 'dist/**',\n    excludes: 'dist/*.tfplan'", false},
		{"archiveArtifacts artifacts: 'dist/**'\nfoo excludes: 'dist/*.tfplan'", true}, // another statement's excludes
		{"archiveArtifacts artifacts: 'dist/scaleapp.tfplan.sha256, dist/tfplan.txt'", false},
	}
	for _, c := range cases {
		if got := len(archivedSecrets(c.jenkinsfile, plan)) > 0; got != c.bad {
			t.Errorf("archivedSecrets(%q) found a problem = %v, want %v", c.jenkinsfile, got, c.bad)
		}
	}
}
