package contract

// The Jenkinsfile's `sh` steps must each call a Makefile target or a script of this repository that
// exists, so every pipeline stage can be run by hand and a renamed script breaks CI here, not in Jenkins.
// npm-groovy-lint (scripts/lint-jenkinsfile.sh) checks the Groovy; it cannot know our file names.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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

// The pipeline's safety rules (README, "Delivery pipeline (Jenkins)"), checked on the Jenkinsfile's
// structure: npm-groovy-lint knows Groovy, not what a stage may do.
//   Rule 2: infrastructure changes only on main, after an approval by a group named by a parameter; no
//           -auto-approve outside the approved path; no AWS credentials for a pull request from a fork.
//   Rule 3: parameters checked before anything is spent; the AMI baked only by a run that applies it; one
//           lock, across branches, around everything that uses the shared state.
// Each check has a case below that breaks the real Jenkinsfile in exactly that way and must be caught.

// groovyBlock returns the index just past the brace that closes the one at open, skipping strings,
// comments and slashy regexes (`==~ /a{2}/`), whose braces do not count.
func groovyBlock(src string, open int) (int, error) {
	depth := 0
	for i := open; i < len(src); i++ {
		switch c := src[i]; {
		case strings.HasPrefix(src[i:], "//"):
			i += strings.IndexByte(src[i:]+"\n", '\n')
		case strings.HasPrefix(src[i:], "/*"):
			i += strings.Index(src[i:]+"*/", "*/") + 1
		case c == '/' && strings.HasSuffix(strings.TrimRight(src[:i], " "), "~"):
			end := strings.IndexByte(src[i+1:], '/')
			if end < 0 {
				return 0, fmt.Errorf("unterminated slashy string at %d", i)
			}
			i += end + 1
		case c == '\'' || c == '"':
			q := string(c)
			if strings.HasPrefix(src[i:], q+q+q) {
				q += q + q
			}
			end := strings.Index(src[i+len(q):], q)
			if end < 0 {
				return 0, fmt.Errorf("unterminated string at %d", i)
			}
			i += len(q) + end + len(q) - 1
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth == 0 {
				return i + 1, nil
			}
		}
	}
	return 0, fmt.Errorf("unbalanced braces from %d", open)
}

type jStage struct {
	name       string
	start, end int // the block, braces included
	parent     int // index of the enclosing stage, -1 at the top
	own        string
}

var stageHead = regexp.MustCompile(`(?m)^\s*stage\s*\(\s*'([^']+)'\s*\)\s*\{`)

// jenkinsStages lists the stages in file order, with their nesting and their own text (the block
// without its nested stages).
func jenkinsStages(src string) ([]jStage, error) {
	var st []jStage
	for _, m := range stageHead.FindAllStringSubmatchIndex(src, -1) {
		end, err := groovyBlock(src, m[1]-1)
		if err != nil {
			return nil, err
		}
		st = append(st, jStage{name: src[m[2]:m[3]], start: m[1] - 1, end: end, parent: -1})
	}
	for i := range st {
		for j := i - 1; j >= 0; j-- {
			if st[j].start < st[i].start && st[i].end <= st[j].end {
				st[i].parent = j
				break
			}
		}
		own := []byte(src[st[i].start:st[i].end])
		for _, c := range st[i+1:] {
			if c.start > st[i].start && c.end <= st[i].end {
				for k := c.start; k < c.end; k++ {
					own[k-st[i].start] = ' '
				}
			}
		}
		st[i].own = string(own)
	}
	return st, nil
}

// section returns the text of `name { ... }` in a stage's own text ("" when absent).
func section(own, name string) string {
	loc := regexp.MustCompile(`\b` + name + `\s*\{`).FindStringIndex(own)
	if loc == nil {
		return ""
	}
	end, err := groovyBlock(own, loc[1]-1)
	if err != nil {
		return ""
	}
	return strings.Join(strings.Fields(own[loc[1]:end-1]), " ")
}

// groovyFunc returns the body of a top-level method (`void name(...) {`).
func groovyFunc(src, name string) string {
	loc := regexp.MustCompile(`(?m)^\w+\s+` + name + `\s*\([^)]*\)\s*\{`).FindStringIndex(src)
	if loc == nil {
		return ""
	}
	end, err := groovyBlock(src, loc[1]-1)
	if err != nil {
		return ""
	}
	return src[loc[1]:end]
}

// autoApproveSteps are scripts/terraform.sh's steps that apply without a saved, reviewed plan.
func autoApproveSteps(script string) []string {
	var steps []string
	for _, m := range regexp.MustCompile(`(?m)^([a-z_]+)\(\) \{\n((?:.*\n)*?)\}`).FindAllStringSubmatch(script, -1) {
		if strings.Contains(m[2], "-auto-approve") {
			steps = append(steps, strings.ReplaceAll(m[1], "_", "-"))
		}
	}
	return steps
}

// changesInfra says whether a stage's steps change infrastructure: the reviewed apply, or an
// auto-approving terraform.sh step, or terraform itself.
func changesInfra(own string, autoSteps []string) bool {
	if regexp.MustCompile(`scripts/terraform\.sh (apply|plan-destroy)\b|-auto-approve|\bterraform (apply|destroy)\b`).MatchString(own) {
		return !strings.Contains(own, "plan-destroy") || strings.Contains(own, "apply")
	}
	for _, s := range autoSteps {
		if strings.Contains(own, "scripts/terraform.sh "+s) {
			return true
		}
	}
	return false
}

func isApproval(own string) bool {
	return regexp.MustCompile(`\b(approve|input)\s*[(\s]`).MatchString(section(own, "steps"))
}

// checkPipelineRules returns every broken rule, each error starting with the rule's number.
func checkPipelineRules(src, terraformSh string) []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	stages, err := jenkinsStages(src)
	if err != nil {
		return []error{err}
	}
	if len(stages) < 5 {
		return []error{fmt.Errorf("found %d stages: the parser no longer reads this Jenkinsfile", len(stages))}
	}
	params := map[string]bool{}
	for _, m := range regexp.MustCompile(`\bname:\s*'([A-Z_]+)'`).FindAllStringSubmatch(section(src, "parameters"), -1) {
		params[m[1]] = true
	}
	autoSteps := autoApproveSteps(terraformSh)
	withAws, checkParams := groovyFunc(src, "withAws"), groovyFunc(src, "checkParameters")

	// Rule 2: approvals by a named group, from a parameter.
	inputs := regexp.MustCompile(`\binput(\s+[a-z]+\s*:|\s*\()[^\n]*`).FindAllString(src, -1)
	if len(inputs) == 0 {
		bad("2: no input step: nothing is ever approved")
	}
	for _, in := range inputs {
		m := regexp.MustCompile(`submitter:\s*params\.([A-Z_]+)`).FindStringSubmatch(in)
		if m == nil || !params[m[1]] {
			bad("2: %q: an approval needs submitter: params.X, X a declared parameter (the approving group)", strings.TrimSpace(in))
		}
	}
	// Rule 2: apply and destroy only on main, never for a pull request, refused before anything runs.
	for _, want := range []string{`env.BRANCH_NAME != 'main'`, `env.CHANGE_ID`} {
		if !strings.Contains(checkParams, want) || !strings.Contains(checkParams, "error(") {
			bad("2: checkParameters must refuse ACTION=apply/destroy unless %s says main and no pull request (missing %s)", "BRANCH_NAME", want)
		}
	}
	// Rule 2: every infrastructure change runs under exactly the condition of the approval stage before
	// it in the same sequence, with no other change in between.
	for i, s := range stages {
		for _, step := range jenkinsShStepsOrNil(s.own) {
			if strings.Contains(step, "-auto-approve") {
				bad("2: stage %q: -auto-approve in the Jenkinsfile", s.name)
			}
		}
		if !changesInfra(section(s.own, "steps"), autoSteps) {
			continue
		}
		approved := false
		for j := i - 1; j >= 0 && stages[j].parent == s.parent; j-- {
			if isApproval(stages[j].own) {
				approved = section(stages[j].own, "when") == section(s.own, "when") && section(s.own, "when") != ""
				break
			}
		}
		if !approved {
			bad("2: stage %q changes infrastructure without an approval stage right before it under the same when condition", s.name)
		}
	}
	// Rule 2: credentials only through withAws, which refuses a fork's pull request.
	if n := strings.Count(src, "withCredentials"); n != 1 || !strings.Contains(withAws, "withCredentials") {
		bad("2: %d withCredentials in the file: AWS credentials must be bound in withAws only", n)
	}
	guard := regexp.MustCompile(`if \(env\.CHANGE_FORK[^{]*\{\s*error\(`).FindStringIndex(withAws)
	if guard == nil || guard[0] > strings.Index(withAws, "withCredentials") {
		bad("2: withAws must stop with error() for a pull request from a fork (env.CHANGE_FORK) before binding credentials")
	}
	forkOff := false
	if loc := regexp.MustCompile(`if \(env\.CHANGE_FORK\) \{`).FindStringIndex(checkParams); loc != nil {
		end, err := groovyBlock(checkParams, loc[1]-1)
		forkOff = err == nil && strings.Contains(checkParams[loc[1]:end], "return false")
	}
	if !forkOff {
		bad("2: checkParameters must turn AWS off (return false) for a pull request from a fork")
	}

	// Rule 3: the parameters are checked first, by a stage that runs nothing else.
	first := stages[0]
	if !strings.Contains(first.own, "checkParameters()") || strings.Contains(first.own, "sh ") || strings.Contains(first.own, "withAws") {
		bad("3: the first stage (%q) must call checkParameters() and nothing that spends", first.name)
	}
	// Rule 3: bake only when applying; and every AWS stage inside one lock on the shared state.
	stateKey := regexp.MustCompile(`TF_STATE_KEY:-([^}]+)\}`).FindStringSubmatch(terraformSh)
	for _, s := range stages {
		steps := section(s.own, "steps")
		if regexp.MustCompile(`scripts/bake\.sh build|make bake`).MatchString(steps) && !strings.Contains(section(s.own, "when"), "params.ACTION == 'apply'") {
			bad("3: stage %q bakes an AMI without a when that requires params.ACTION == 'apply'", s.name)
		}
		if !strings.Contains(steps, "withAws") {
			continue
		}
		locked := false
		for p := s.parent; p >= 0; p = stages[p].parent {
			lock := regexp.MustCompile(`lock\(resource:\s*"([^"]+)"`).FindStringSubmatch(section(stages[p].own, "options"))
			if lock != nil && stateKey != nil && strings.Contains(lock[1], "${params.TF_STATE_BUCKET}") && strings.Contains(lock[1], stateKey[1]) &&
				!regexp.MustCompile(`BRANCH_NAME|JOB_NAME|BUILD_`).MatchString(lock[1]) && strings.Contains(section(stages[p].own, "when"), "USE_AWS") {
				locked = true
			}
		}
		if !locked {
			bad("3: stage %q uses AWS outside a stage that runs only when USE_AWS and holds lock(resource: \"...${params.TF_STATE_BUCKET}/<state key>\") for every branch", s.name)
		}
	}
	if stateKey == nil {
		bad("3: scripts/terraform.sh no longer defaults TF_STATE_KEY: update this test")
	}
	// The agent is named by a label (its requirements are documented for it), and checked out once.
	if !regexp.MustCompile(`(?m)^    agent \{ label '[^']+' \}`).MatchString(src) {
		bad("5: the pipeline's agent must be a label (agent { label '...' }), not agent any")
	}
	if strings.Contains(src, "checkout scm") && !strings.Contains(section(src, "options"), "skipDefaultCheckout()") {
		bad("6: checkout scm without skipDefaultCheckout(): the code is checked out twice")
	}
	return errs
}

func jenkinsShStepsOrNil(src string) []string {
	steps, _ := jenkinsShSteps(src)
	return steps
}

func TestJenkinsfilePipelineRules(t *testing.T) {
	src, tf := readRepoFile(t, "Jenkinsfile"), readRepoFile(t, "scripts/terraform.sh")
	if got := autoApproveSteps(tf); !slices.Contains(got, "ecr-repository") {
		t.Fatalf("auto-approving steps of scripts/terraform.sh = %v, want ecr-repository among them", got)
	}
	for _, err := range checkPipelineRules(src, tf) {
		t.Error(err)
	}

	// Each case breaks one rule in the real file; the check must say which.
	cases := []struct {
		name, old, new, want string
	}{
		{"approval without submitter", "submitter: params.APPROVERS", "ok: 'Yes'", "2: "},
		{"submitter not a parameter", "submitter: params.APPROVERS", "submitter: 'bob'", "needs submitter: params.X"},
		{"apply off main", "changes && env.BRANCH_NAME != 'main'", "changes && false", "unless BRANCH_NAME says main"},
		{"apply for a pull request", "if (changes && env.CHANGE_ID)", "if (changes && false)", "missing env.CHANGE_ID"},
		{"apply stage without its approval", `approve("${params.ACTION} in`, `echo("${params.ACTION} in`, "stage \"Terraform apply\" changes infrastructure"},
		{"push on every branch", "when { expression { params.DELIVERY == 'container' && params.ACTION == 'apply' } }\n                    steps {\n                        withAws {",
			"when { expression { params.DELIVERY == 'container' } }\n                    steps {\n                        withAws {", "stage \"Push image\" changes infrastructure"},
		{"auto-approve in a step", "sh 'scripts/terraform.sh apply'", "sh 'scripts/terraform.sh apply -auto-approve'", "-auto-approve in the Jenkinsfile"},
		{"credentials outside withAws", "sh 'scripts/bake.sh build'", "withCredentials([]) { sh 'scripts/bake.sh build' }", "withCredentials in the file"},
		{"fork guard removed from withAws", "if (env.CHANGE_FORK || env.USE_AWS != 'true') {", "if (env.USE_AWS != 'true') {", "pull request from a fork (env.CHANGE_FORK) before"},
		{"fork keeps AWS on", "echo \"Pull request from the fork ${env.CHANGE_FORK}: no AWS credentials, test and build only\"\n        return false",
			"echo 'fork'\n        return true", "turn AWS off (return false) for a pull request from a fork"},
		{"parameters checked late", "env.USE_AWS = checkParameters() ? 'true' : 'false'", "env.USE_AWS = 'true'", "must call checkParameters()"},
		{"bake on a plan-only run", "when { expression { params.DELIVERY == 'ami' && params.ACTION == 'apply' } }", "when { expression { params.DELIVERY == 'ami' } }", "bakes an AMI without"},
		{"no lock", "lock(resource: \"scaleapp-tfstate:${params.TF_STATE_BUCKET}/scaleapp/terraform.tfstate\")", "retry(1)", "uses AWS outside a stage"},
		{"any agent", "agent { label 'scaleapp-debian12' }", "agent any", "5: the pipeline's agent must be a label"},
		{"two checkouts", "skipDefaultCheckout()", "", "6: checkout scm without skipDefaultCheckout()"},
		{"a lock per branch", "lock(resource: \"scaleapp-tfstate:${params.TF_STATE_BUCKET}/scaleapp/terraform.tfstate\")",
			"lock(resource: \"scaleapp-tfstate:${params.TF_STATE_BUCKET}/scaleapp/terraform.tfstate/${env.BRANCH_NAME}\")", "uses AWS outside a stage"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(src, c.old) {
				t.Fatalf("the Jenkinsfile no longer holds %q: update this case", c.old)
			}
			errs := checkPipelineRules(strings.Replace(src, c.old, c.new, 1), tf)
			if !strings.Contains(fmt.Sprint(errs), c.want) {
				t.Errorf("errors %v, want one with %q", errs, c.want)
			}
		})
	}
}
