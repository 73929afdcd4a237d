package contract

// Cross-folder checks for the golden image (packer/): the systemd unit, the default env file the AMI ships
// and the Packer template must agree with contract.json. The unit and env file cannot read the contract,
// so their copies are compared here; the template reads it with jsondecode(file(...)), so its expressions
// are evaluated against contract.json to prove they pick the right keys.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/unit"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

const imgPackerDir = "../packer"

// imgProblems collects what a check finds; a fatal problem (unreadable file) stops that check.
type imgProblems []string

func (p *imgProblems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// imgUnitOptions reads DIR/<unit> and returns its [Service] options by name.
func imgUnitOptions(dir string) (map[string][]string, error) {
	f, err := os.Open(filepath.Join(dir, C.Unit))
	if err != nil {
		return nil, fmt.Errorf("the unit named in contract.json (unit=%q) is not in packer/: %w", C.Unit, err)
	}
	defer f.Close()
	opts, err := unit.Deserialize(f)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", C.Unit, err)
	}
	svc := map[string][]string{}
	for _, o := range opts {
		if o.Section == "Service" {
			svc[o.Name] = append(svc[o.Name], o.Value)
		}
	}
	return svc, nil
}

// imgLast is the effective value of a single-value setting: the last assignment wins, as in systemd.
func imgLast(opts map[string][]string, name string) string {
	v := opts[name]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// imgParseTimespan parses a systemd time span ("10", "10s", "1min 30s", "500ms"); a bare number is
// seconds. "infinity" is refused: every timeout here must be finite.
func imgParseTimespan(s string) (time.Duration, error) {
	units := map[string]time.Duration{
		"us": time.Microsecond, "usec": time.Microsecond, "µs": time.Microsecond,
		"ms": time.Millisecond, "msec": time.Millisecond,
		"": time.Second, "s": time.Second, "sec": time.Second, "second": time.Second, "seconds": time.Second,
		"m": time.Minute, "min": time.Minute, "minute": time.Minute, "minutes": time.Minute,
		"h": time.Hour, "hr": time.Hour, "hour": time.Hour, "hours": time.Hour,
		"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	}
	s = strings.TrimSpace(s)
	if s == "" || s == "infinity" {
		return 0, fmt.Errorf("time span %q: want a finite value", s)
	}
	var total time.Duration
	rest := strings.ReplaceAll(s, " ", "")
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("time span %q: expected a number at %q", s, rest)
		}
		num, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("time span %q: %v", s, err)
		}
		j := i
		for j < len(rest) && (rest[j] < '0' || rest[j] > '9') && rest[j] != '.' {
			j++
		}
		u, ok := units[rest[i:j]]
		if !ok {
			return 0, fmt.Errorf("time span %q: unknown unit %q", s, rest[i:j])
		}
		total += time.Duration(num * float64(u))
		rest = rest[j:]
	}
	return total, nil
}

func TestImgParseTimespan(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "10", want: 10 * time.Second},
		{in: "35s", want: 35 * time.Second},
		{in: "1min 30s", want: 90 * time.Second},
		{in: "1.5min", want: 90 * time.Second},
		{in: "500ms", want: 500 * time.Millisecond},
		{in: "2h", want: 2 * time.Hour},
		{in: "infinity", wantErr: true},
		{in: "", wantErr: true},
		{in: "10 fortnights", wantErr: true},
		{in: "s", wantErr: true},
	}
	for _, tt := range tests {
		got, err := imgParseTimespan(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("imgParseTimespan(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// imgCheckUnit compares DIR/<unit> with the contract.
func imgCheckUnit(dir string) imgProblems {
	var p imgProblems
	svc, err := imgUnitOptions(dir)
	if err != nil {
		p.add("%v", err)
		return p
	}
	exec := strings.Fields(imgLast(svc, "ExecStart"))
	for _, c := range []struct{ name, got, want string }{
		{name: "Type (READY=1 marks it active)", got: imgLast(svc, "Type"), want: "notify"},
		{name: "NotifyAccess", got: imgLast(svc, "NotifyAccess"), want: "main"},
		{name: "ExecStart binary (contract binary_path)", got: strings.Join(exec[:min(1, len(exec))], ""), want: C.BinaryPath},
		{name: "EnvironmentFile (optional, contract env_file)", got: imgLast(svc, "EnvironmentFile"), want: "-" + C.EnvFile},
		{name: "Restart", got: imgLast(svc, "Restart"), want: "on-failure"},
	} {
		if c.got != c.want {
			p.add("%s: %s = %q, want %q", C.Unit, c.name, c.got, c.want)
		}
	}

	if wd, err := imgParseTimespan(imgLast(svc, "WatchdogSec")); err != nil {
		p.add("%s WatchdogSec: %v", C.Unit, err)
	} else if want := time.Duration(C.WatchdogSeconds) * time.Second; wd != want {
		p.add("%s: WatchdogSec = %v, want the contract's watchdog_seconds %v (the service pings at a third of it)", C.Unit, wd, want)
	}

	if stop, err := imgParseTimespan(imgLast(svc, "TimeoutStopSec")); err != nil {
		p.add("%s TimeoutStopSec: %v", C.Unit, err)
	} else if want := time.Duration(C.StopTimeoutSeconds) * time.Second; stop != want {
		p.add("%s: TimeoutStopSec = %v, want the contract's stop_timeout_seconds %v (the service refuses a drain + shutdown that does not fit in it)", C.Unit, stop, want)
	} else if budget := C.DrainDelay() + C.ShutdownTimeout(); stop <= budget {
		p.add("%s: TimeoutStopSec = %v must exceed drain %v + shutdown %v = %v, or systemd kills a draining instance",
			C.Unit, stop, C.DrainDelay(), C.ShutdownTimeout(), budget)
	}

	// ProcSubset=pid hides /proc/sys/net/core/somaxconn (Go falls back to a listen backlog of 128) and
	// /proc/stat (process_start_time_seconds disappears from /metrics); the boot test checks both.
	if v := imgLast(svc, "ProcSubset"); v != "" && v != "all" {
		p.add("%s: ProcSubset=%s hides /proc/stat and /proc/sys/net/core/somaxconn from the service", C.Unit, v)
	}

	// Anything that caps CPU would stop /cpu from filling every core, and the ASG from scaling out.
	for _, capping := range []string{"CPUQuota", "CPUQuotaPeriodSec", "AllowedCPUs", "CPUAffinity"} {
		if v, ok := svc[capping]; ok {
			p.add("%s sets %s=%v: /cpu must be able to use every core", C.Unit, capping, v)
		}
	}
	return p
}

// imgCheckEnv compares DIR/scaleapp.env (KEY=value lines, # comments) with the contract and the unit.
func imgCheckEnv(dir string) imgProblems {
	var p imgProblems
	b, err := os.ReadFile(filepath.Join(dir, "scaleapp.env"))
	if err != nil {
		p.add("default env file: %v", err)
		return p
	}
	env := map[string]string{}
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			p.add("scaleapp.env:%d: %q is not KEY=value", n+1, line)
			continue
		}
		env[k] = v
	}
	if env["PORT"] != strconv.Itoa(C.Port) {
		p.add("scaleapp.env PORT=%q, want the contract's port %d", env["PORT"], C.Port)
	}
	var sum time.Duration
	for _, d := range []struct {
		key  string
		want time.Duration
	}{
		{key: "DRAIN_DELAY", want: C.DrainDelay()},
		{key: "SHUTDOWN_TIMEOUT", want: C.ShutdownTimeout()},
	} {
		got, err := time.ParseDuration(env[d.key])
		if err != nil {
			p.add("scaleapp.env %s=%q: not a Go duration: %v", d.key, env[d.key], err)
			continue
		}
		if got != d.want {
			p.add("scaleapp.env %s=%v, want %v (contract.json)", d.key, got, d.want)
		}
		sum += got
	}
	svc, err := imgUnitOptions(dir)
	if err != nil {
		p.add("%v", err)
		return p
	}
	if stop, err := imgParseTimespan(imgLast(svc, "TimeoutStopSec")); err == nil && stop <= sum {
		p.add("%s TimeoutStopSec=%v must exceed the env file's DRAIN_DELAY + SHUTDOWN_TIMEOUT = %v", C.Unit, stop, sum)
	}
	return p
}

// imgTemplate parses every DIR/*.pkr.hcl file into one list of top-level blocks.
func imgTemplate(dir string) (hclsyntax.Blocks, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.pkr.hcl"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no %s/*.pkr.hcl (%v)", dir, err)
	}
	parser := hclparse.NewParser()
	var blocks hclsyntax.Blocks
	for _, f := range files {
		file, diags := parser.ParseHCLFile(f)
		if diags.HasErrors() {
			return nil, fmt.Errorf("parse %s: %s", f, diags.Error())
		}
		blocks = append(blocks, file.Body.(*hclsyntax.Body).Blocks...)
	}
	return blocks, nil
}

func imgFindBlock(blocks hclsyntax.Blocks, typ string, labels ...string) *hclsyntax.Block {
	for _, b := range blocks {
		if b.Type == typ && slices.Equal(b.Labels, labels) {
			return b
		}
	}
	return nil
}

// imgContractContext evaluates the template's `locals { contract = ... }` as Packer would (path.root is
// the template's folder; jsondecode and file are the same functions), checks it equals contract.json,
// and returns a context holding local.contract.
func imgContractContext(dir string, blocks hclsyntax.Blocks) (*hcl.EvalContext, error) {
	fileFunc := function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			b, err := os.ReadFile(args[0].AsString())
			return cty.StringVal(string(b)), err
		},
	})
	absFunc := function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p, err := filepath.Abs(args[0].AsString())
			return cty.StringVal(p), err
		},
	})
	// Packer gives path.root as typed on the command line: relative, here.
	root := dir
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"path": cty.ObjectVal(map[string]cty.Value{"root": cty.StringVal(root)})},
		Functions: map[string]function.Function{
			"jsondecode": stdlib.JSONDecodeFunc, "file": fileFunc, "coalesce": stdlib.CoalesceFunc, "abspath": absFunc,
		},
	}
	var expr hclsyntax.Expression
	for _, b := range blocks {
		if a, ok := b.Body.Attributes["contract"]; b.Type == "locals" && ok {
			expr = a.Expr
		}
	}
	if expr == nil {
		return nil, fmt.Errorf("the template has no `locals { contract = jsondecode(file(...contract.json)) }`")
	}
	val, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return nil, fmt.Errorf("local.contract: %s", diags.Error())
	}
	got, err := ctyjson.Marshal(val, val.Type())
	if err != nil {
		return nil, err
	}
	var fromTemplate, want map[string]any
	if err := json.Unmarshal(got, &fromTemplate); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		return nil, err
	}
	if !reflect.DeepEqual(fromTemplate, want) {
		return nil, fmt.Errorf("local.contract in the template does not read contract/contract.json:\n got %v\nwant %v", fromTemplate, want)
	}
	ctx.Variables["local"] = cty.ObjectVal(map[string]cty.Value{"contract": val})
	return ctx, nil
}

// imgEvalString evaluates a block's attribute to a string (it may only use local.contract and path).
func imgEvalString(ctx *hcl.EvalContext, b *hclsyntax.Block, attr string) (string, error) {
	a, ok := b.Body.Attributes[attr]
	if !ok {
		return "", fmt.Errorf("%s %v has no %s", b.Type, b.Labels, attr)
	}
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return "", fmt.Errorf("%s %v %s: want a string from local.contract: %s", b.Type, b.Labels, attr, diags.Error())
	}
	return v.AsString(), nil
}

// imgMapEntry finds, in an object attribute (tags = {...}), the entry whose key evaluates to key, and
// returns its value. Entries that need more than local.contract (timestamps, variables) are skipped.
func imgMapEntry(ctx *hcl.EvalContext, b *hclsyntax.Block, attr, key string) (string, error) {
	a, ok := b.Body.Attributes[attr]
	if !ok {
		return "", fmt.Errorf("%s %v has no %s", b.Type, b.Labels, attr)
	}
	obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return "", fmt.Errorf("%s %v %s: want an object literal", b.Type, b.Labels, attr)
	}
	for _, item := range obj.Items {
		k, diags := item.KeyExpr.Value(ctx)
		if diags.HasErrors() || !k.IsKnown() || k.Type() != cty.String || k.AsString() != key {
			continue
		}
		v, diags := item.ValueExpr.Value(ctx)
		if diags.HasErrors() || v.Type() != cty.String {
			return "", fmt.Errorf("%s %v %s[%q]: %s", b.Type, b.Labels, attr, key, diags.Error())
		}
		return v.AsString(), nil
	}
	return "", fmt.Errorf("%s %v %s has no %q key", b.Type, b.Labels, attr, key)
}

// imgCheckTemplate evaluates the parts of DIR/*.pkr.hcl that carry contract values.
func imgCheckTemplate(dir string) imgProblems {
	var p imgProblems
	blocks, err := imgTemplate(dir)
	if err != nil {
		p.add("%v", err)
		return p
	}
	ctx, err := imgContractContext(dir, blocks)
	if err != nil {
		p.add("%v", err)
		return p
	}
	ebs := imgFindBlock(blocks, "source", "amazon-ebs", "scaleapp")
	build := imgFindBlock(blocks, "build")
	if ebs == nil || build == nil {
		p.add(`the template needs source "amazon-ebs" "scaleapp" and a build block`)
		return p
	}
	if v, err := imgMapEntry(ctx, ebs, "tags", C.AMITagKey); err != nil {
		p.add("%v", err)
	} else if v != C.AMITagValue {
		p.add("amazon-ebs tags: %s=%q, want %q as in contract.json (Terraform finds the AMI by it)", C.AMITagKey, v, C.AMITagValue)
	}
	// packer-plugin-amazon v1.3.6 tags the new AMI and its copies with run_tags when it creates them,
	// before deprecation and IMDS are set; `tags` come last. A build failing in between must not leave
	// an AMI that Terraform's lookup (by the contract tag) would pick.
	if _, err := imgMapEntry(ctx, ebs, "run_tags", C.AMITagKey); err == nil {
		p.add("amazon-ebs run_tags holds the contract tag %s: v1.3.6 puts run_tags on the AMI before it is complete", C.AMITagKey)
	}
	p = append(p, imgCheckAWSSource(blocks, ebs)...)

	gate := imgFindBlock(build.Body.Blocks, "provisioner", "scaleapp-healthgate")
	tfvars := imgFindBlock(build.Body.Blocks, "post-processor", "scaleapp-tfvars")
	if gate == nil || tfvars == nil {
		p.add(`the build needs provisioner "scaleapp-healthgate" (nothing else keeps a broken image from being published) and post-processor "scaleapp-tfvars"`)
		return p
	}
	// The local bake proves the AWS bake only while both run the same provisioners: none may be limited
	// to some sources (an `except = ["amazon-ebs.scaleapp"]` on the gate would publish unchecked AMIs).
	for _, b := range build.Body.Blocks {
		for _, attr := range []string{"only", "except"} {
			if _, ok := b.Body.Attributes[attr]; ok && b.Type == "provisioner" {
				p.add("provisioner %v has %s: every provisioner must run for every source (the local bake stands for the AWS one)", b.Labels, attr)
			}
		}
	}
	var tfvarsLocal *hclsyntax.Block
	for _, b := range blocks {
		if _, ok := b.Body.Attributes["tfvars_output"]; b.Type == "locals" && ok {
			tfvarsLocal = b
		}
	}
	if tfvarsLocal == nil {
		p.add("the template has no local tfvars_output")
		return p
	}
	for _, c := range []struct {
		name  string
		block *hclsyntax.Block
		attr  string
		want  func(string) bool
		wants string
	}{
		{"health gate unit", gate, "unit", func(s string) bool { return s == C.Unit }, C.Unit},
		{"health gate url", gate, "url", func(s string) bool { return s == fmt.Sprintf("http://127.0.0.1:%d%s", C.Port, C.HealthPath) },
			fmt.Sprintf("http://127.0.0.1:%d%s", C.Port, C.HealthPath)},
		{"health gate expected_body", gate, "expected_body", func(s string) bool { return s == C.HealthOKBody }, C.HealthOKBody},
		{"tfvars variable", tfvars, "variable", func(s string) bool { return s == C.AMIVariable }, C.AMIVariable},
		// With var.tfvars_output unset, the file lands where Terraform reads it.
		{"default tfvars output", tfvarsLocal, "tfvars_output",
			func(s string) bool {
				return strings.HasSuffix(filepath.Clean(s), filepath.Join("terraform", C.TFVarsFile))
			},
			"…/terraform/" + C.TFVarsFile},
	} {
		ctx.Variables["var"] = cty.ObjectVal(map[string]cty.Value{"tfvars_output": cty.NullVal(cty.String)})
		got, err := imgEvalString(ctx, c.block, c.attr)
		if err != nil {
			p.add("%s: %v", c.name, err)
		} else if !c.want(got) {
			p.add("%s = %q, want %s (contract.json)", c.name, got, c.wants)
		}
	}
	return p
}

// imgLocals evaluates the named locals of the template in order, with the given variables.
func imgLocals(blocks hclsyntax.Blocks, vars map[string]cty.Value, names ...string) (map[string]cty.Value, error) {
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)},
		Functions: map[string]function.Function{"length": stdlib.LengthFunc, "regex": stdlib.RegexFunc, "can": tryfunc.CanFunc},
	}
	locals := map[string]cty.Value{}
	for _, name := range names {
		var expr hclsyntax.Expression
		for _, b := range blocks {
			if a, ok := b.Body.Attributes[name]; b.Type == "locals" && ok {
				expr = a.Expr
			}
		}
		if expr == nil {
			return nil, fmt.Errorf("the template has no local %s", name)
		}
		ctx.Variables["local"] = cty.ObjectVal(locals)
		v, diags := expr.Value(ctx)
		if diags.HasErrors() {
			return nil, fmt.Errorf("local.%s: %s", name, diags.Error())
		}
		locals[name] = v
	}
	return locals, nil
}

// imgCheckAWSSource checks the amazon-ebs settings that decide what AWS does: the source AMI filter
// pins one kernel line, and Packer dials the address its temporary security group admits.
func imgCheckAWSSource(blocks hclsyntax.Blocks, ebs *hclsyntax.Block) imgProblems {
	var p imgProblems
	var filter *hclsyntax.Block
	for _, b := range ebs.Body.Blocks {
		if b.Type == "source_ami_filter" {
			filter = b
		}
	}
	variable := imgFindBlock(blocks, "variable", "kernel_line")
	if filter == nil || variable == nil {
		p.add(`amazon-ebs needs a source_ami_filter and the template a variable "kernel_line"`)
		return p
	}
	line, diags := variable.Body.Attributes["default"].Expr.Value(nil)
	if diags.HasErrors() || line.Type() != cty.String {
		p.add("variable kernel_line: want a string default: %s", diags.Error())
		return p
	}
	for _, arch := range []string{"x86_64", "arm64"} {
		ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{
			"arch": cty.StringVal(arch), "kernel_line": line,
		})}}
		v, diags := filter.Body.Attributes["filters"].Expr.Value(ctx)
		if diags.HasErrors() || !v.Type().IsObjectType() || !v.Type().HasAttribute("name") {
			p.add("source_ami_filter filters: want an object with a name: %s", diags.Error())
			return p
		}
		// AL2023 names: al2023-ami-2023.<release>-kernel-<line>-<arch>; -minimal images do not match.
		name := v.GetAttr("name").AsString()
		if !regexp.MustCompile(`^al2023-ami-2023\.\*-kernel-[0-9]+\.[0-9]+-` + arch + `$`).MatchString(name) {
			p.add("source_ami_filter name %q for %s: want one kernel line (al2023-ami-2023.*-kernel-6.1-%s); a wildcard there lets most_recent switch kernels between bakes", name, arch, arch)
		}
	}

	if a, ok := ebs.Body.Attributes["ssh_interface"]; !ok || strings.TrimSpace(imgSource(a.Expr)) != "local.ssh_interface" {
		p.add("amazon-ebs: ssh_interface = local.ssh_interface is missing: Packer dials the public IP whenever there is one")
	}
	str := func(ss ...string) cty.Value {
		if len(ss) == 0 {
			return cty.ListValEmpty(cty.String)
		}
		var vs []cty.Value
		for _, s := range ss {
			vs = append(vs, cty.StringVal(s))
		}
		return cty.ListVal(vs)
	}
	for _, tc := range []struct {
		cidrs    cty.Value
		override string
		iface    string
	}{
		{str(), "", "public_ip"},                                   // this machine's public IP
		{str("10.20.0.0/16"), "", "private_ip"},                    // a VPN into the VPC
		{str("172.31.0.0/16", "192.168.1.0/24"), "", "private_ip"}, // every range private
		{str("100.64.0.0/10"), "", "private_ip"},                   // shared address space (CGNAT, some VPNs)
		{str("10.0.0.0/8", "203.0.113.0/24"), "", "public_ip"},     // one public range: the public address
		{str("172.32.0.0/16"), "", "public_ip"},                    // just outside 172.16.0.0/12
		{str("10.0.0.0/8"), "private_dns", "private_dns"},          // set explicitly
	} {
		vars := map[string]cty.Value{"ssh_source_cidrs": tc.cidrs, "ssh_interface": cty.StringVal(tc.override)}
		got, err := imgLocals(blocks, vars, "private_cidr", "ssh_private", "ssh_interface")
		if err != nil {
			p.add("%v", err)
			return p
		}
		if v := got["ssh_interface"]; v.Type() != cty.String || v.AsString() != tc.iface {
			p.add("local.ssh_interface for ssh_source_cidrs=%s ssh_interface=%q is %#v, want %q", tc.cidrs.GoString(), tc.override, v, tc.iface)
		}
	}
	return p
}

// imgSource is the source text of an expression.
func imgSource(expr hclsyntax.Expression) string {
	r := expr.Range()
	src, err := os.ReadFile(r.Filename)
	if err != nil || r.End.Byte > len(src) {
		return ""
	}
	return string(src[r.Start.Byte:r.End.Byte])
}

// imgCheckPluginPin: the template requires exactly the amazon plugin version CI installs and validates
// with (scripts/install-tools.sh); a range would let a bake run with a plugin nobody tested.
func imgCheckPluginPin(dir string) imgProblems {
	var p imgProblems
	blocks, err := imgTemplate(dir)
	if err != nil {
		p.add("%v", err)
		return p
	}
	tools, err := os.ReadFile(filepath.Join(dir, "..", "scripts", "install-tools.sh"))
	if err != nil {
		p.add("scripts/install-tools.sh: %v", err)
		return p
	}
	m := regexp.MustCompile(`(?m)^AMAZON_PLUGIN_VERSION=([0-9.]+)$`).FindSubmatch(tools)
	if m == nil {
		p.add("scripts/install-tools.sh sets no AMAZON_PLUGIN_VERSION=x.y.z")
		return p
	}
	var amazon cty.Value
	for _, b := range blocks {
		for _, rp := range b.Body.Blocks {
			if a, ok := rp.Body.Attributes["amazon"]; b.Type == "packer" && rp.Type == "required_plugins" && ok {
				v, diags := a.Expr.Value(nil)
				if diags.HasErrors() {
					p.add("required_plugins amazon: %s", diags.Error())
					return p
				}
				amazon = v
			}
		}
	}
	if amazon == cty.NilVal || !amazon.Type().IsObjectType() || !amazon.Type().HasAttribute("version") {
		p.add("the template has no required_plugins { amazon = { version = ... } }")
		return p
	}
	if got, want := amazon.GetAttr("version").AsString(), "= "+string(m[1]); got != want {
		p.add("required_plugins amazon version = %q, want %q: exactly the version scripts/install-tools.sh installs", got, want)
	}
	return p
}

func TestImageMatchesContract(t *testing.T) {
	for name, check := range map[string]func(string) imgProblems{
		"unit": imgCheckUnit, "env file": imgCheckEnv, "template": imgCheckTemplate, "plugin pin": imgCheckPluginPin,
	} {
		for _, problem := range check(imgPackerDir) {
			t.Errorf("%s: %s", name, problem)
		}
	}
}

// TestImageChecksCatchDrift proves each check fails: it copies packer/ and contract.json to a temporary
// tree, breaks one thing, and requires the matching check to report it.
func TestImageChecksCatchDrift(t *testing.T) {
	tests := []struct {
		name, file, from, to string
		check                func(string) imgProblems
	}{
		{"Type", C.Unit, "Type=notify", "Type=simple", imgCheckUnit},
		{"ExecStart path", C.Unit, "ExecStart=" + C.BinaryPath, "ExecStart=/usr/bin/scaleapp", imgCheckUnit},
		{"optional env file", C.Unit, "EnvironmentFile=-", "EnvironmentFile=", imgCheckUnit},
		{"watchdog", C.Unit, "WatchdogSec=10", "WatchdogSec=30", imgCheckUnit},
		{"stop timeout too short", C.Unit, "TimeoutStopSec=35", "TimeoutStopSec=20", imgCheckUnit},
		{"stop timeout not the contract's", C.Unit, "TimeoutStopSec=35", "TimeoutStopSec=60", imgCheckUnit},
		{"CPU quota", C.Unit, "[Service]", "[Service]\nCPUQuota=50%", imgCheckUnit},
		{"env PORT", "scaleapp.env", "PORT=8080", "PORT=9090", imgCheckEnv},
		{"env drain", "scaleapp.env", "DRAIN_DELAY=15s", "DRAIN_DELAY=30s", imgCheckEnv},
		{"env shutdown", "scaleapp.env", "SHUTDOWN_TIMEOUT=10s", "SHUTDOWN_TIMEOUT=1m", imgCheckEnv},
		{"contract path", "scaleapp.pkr.hcl", "../contract/contract.json", "../contract/other.json", imgCheckTemplate},
		{"AMI tag value", "scaleapp.pkr.hcl", "(local.contract.ami_tag_key) = local.contract.ami_tag_value\n    version", "(local.contract.ami_tag_key) = \"other\"\n    version", imgCheckTemplate},
		{"gate url port", "scaleapp.pkr.hcl", "127.0.0.1:${local.contract.port}", "127.0.0.1:80", imgCheckTemplate},
		{"gate body", "scaleapp.pkr.hcl", "expected_body = local.contract.health_ok_body", "expected_body = \"OK\"", imgCheckTemplate},
		{"tfvars variable", "scaleapp.pkr.hcl", "variable = local.contract.ami_variable", "variable = \"ami\"", imgCheckTemplate},
		{"gate except", "scaleapp.pkr.hcl", `ready_timeout = "60s"`, `except = ["amazon-ebs.scaleapp"]` + "\n" + `ready_timeout = "60s"`, imgCheckTemplate},
		{"install only", "scaleapp.pkr.hcl", "inline = [\"bash ${local.staging}/install.sh --bin", `only = ["null.local"]` + "\ninline = [\"bash ${local.staging}/install.sh --bin", imgCheckTemplate},
		{"ProcSubset", C.Unit, "LockPersonality=yes", "LockPersonality=yes\nProcSubset=pid", imgCheckUnit},
		{"contract tag in run_tags", "scaleapp.pkr.hcl", `Name = "packer-${local.ami_name}"`, `Name = "packer-${local.ami_name}"` + "\n(local.contract.ami_tag_key) = local.contract.ami_tag_value", imgCheckTemplate},
		{"any kernel line", "scaleapp.pkr.hcl", "kernel-${var.kernel_line}-", "kernel-*-", imgCheckTemplate},
		{"no ssh_interface", "scaleapp.pkr.hcl", "ssh_interface = local.ssh_interface", "", imgCheckTemplate},
		{"ssh_interface ignores the CIDRs", "scaleapp.pkr.hcl", `(local.ssh_private ? "private_ip" : "public_ip")`, `"public_ip"`, imgCheckTemplate},
		{"plugin range", "scaleapp.pkr.hcl", `version = "= 1.3.6"`, `version = ">= 1.3.6"`, imgCheckPluginPin},
		{"plugin other version", "scaleapp.pkr.hcl", `version = "= 1.3.6"`, `version = "= 1.3.5"`, imgCheckPluginPin},
		{"cleanup only", "scaleapp.pkr.hcl", "inline = [\"bash ${local.staging}/install.sh cleanup\"]", `only = ["null.local"]` + "\ninline = [\"bash ${local.staging}/install.sh cleanup\"]", imgCheckTemplate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			dir := filepath.Join(tmp, "packer")
			if err := os.MkdirAll(filepath.Join(tmp, "contract"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(tmp, "contract", "contract.json"), raw, 0o644); err != nil {
				t.Fatal(err)
			}
			tools, err := os.ReadFile(filepath.Join(imgPackerDir, "..", "scripts", "install-tools.sh"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(tmp, "scripts"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(tmp, "scripts", "install-tools.sh"), tools, 0o644); err != nil {
				t.Fatal(err)
			}
			sources, _ := filepath.Glob(filepath.Join(imgPackerDir, "*.pkr.hcl"))
			sources = append(sources, filepath.Join(imgPackerDir, C.Unit), filepath.Join(imgPackerDir, "scaleapp.env"))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, src := range sources {
				b, err := os.ReadFile(src)
				if err != nil {
					t.Fatal(err)
				}
				if filepath.Base(src) == tt.file {
					// Compare with single spaces: packer fmt aligns "=" in blocks.
					text := strings.Join(strings.Fields(string(b)), " ")
					from := strings.Join(strings.Fields(tt.from), " ")
					if strings.Count(text, from) != 1 {
						t.Fatalf("mutation is stale: %q occurs %d times in %s", tt.from, strings.Count(text, from), tt.file)
					}
					b = []byte(strings.Replace(string(b), imgFindSpaced(string(b), tt.from), tt.to, 1))
				}
				if err := os.WriteFile(filepath.Join(dir, filepath.Base(src)), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if len(tt.check(dir)) == 0 {
				t.Errorf("the check still passes after %s: %q -> %q", tt.file, tt.from, tt.to)
			}
		})
	}
}

// imgFindSpaced returns the text in s that matches want up to runs of whitespace (packer fmt aligns).
func imgFindSpaced(s, want string) string {
	words := strings.Fields(want)
	for i := 0; i < len(s); i++ {
		j, ok := i, true
		for k, w := range words {
			if k > 0 {
				if j >= len(s) || !strings.ContainsRune(" \t\n", rune(s[j])) {
					ok = false
					break
				}
				for j < len(s) && strings.ContainsRune(" \t\n", rune(s[j])) {
					j++
				}
			}
			if !strings.HasPrefix(s[j:], w) {
				ok = false
				break
			}
			j += len(w)
		}
		if ok {
			return s[i:j]
		}
	}
	return want
}
