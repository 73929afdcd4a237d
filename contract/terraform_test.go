package contract

// Checks that terraform/ agrees with contract.json, the unit file packer/ bakes and the tfvars file the
// Packer plugin writes. The provider schema cannot be downloaded here, so instead of terraform plan the
// test parses the .tf files with hclsyntax and evaluates the expressions that matter with a small
// evaluation context: the variables' defaults, the locals, stand-ins for the few resource attributes
// the locals read, and the Terraform functions those expressions use.
//
// "Reads the contract" is checked by value AND by dependency: each expression is evaluated once with
// the real contract and once with a probe value in the field it should read (e.g. port 18081); a
// literal that merely equals today's value does not follow the probe and fails.
//
// TestTerraformContractCatchesDrift applies a known breakage per check to a copy of the files and
// asserts the check then fails, so none of these checks can pass vacuously.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// tfStack is terraform/ parsed, plus where the files it is compared with live.
type tfStack struct {
	root   string   // repository root: terraform/, contract/, packer/
	c      Contract // root/contract/contract.json (C in the real tree; a mutated copy in the drift test)
	blocks []*hclsyntax.Block
}

func (s *tfStack) dir() string { return filepath.Join(s.root, "terraform") }

// loadTFStack parses root/terraform/*.tf, or the .tf files of dir[0] (a module) when given.
func loadTFStack(root string, dir ...string) (*tfStack, error) {
	tfDir := filepath.Join(root, "terraform")
	if len(dir) > 0 {
		tfDir = dir[0]
	}
	paths, err := filepath.Glob(filepath.Join(tfDir, "*.tf"))
	if err != nil || len(paths) == 0 {
		return nil, fmt.Errorf("no .tf files in %s (err %v)", tfDir, err)
	}
	s := &tfStack{root: root}
	raw, err := os.ReadFile(filepath.Join(root, "contract", "contract.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &s.c); err != nil {
		return nil, fmt.Errorf("contract.json: %w", err)
	}
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		f, diags := hclsyntax.ParseConfig(src, p, hcl.InitialPos)
		if diags.HasErrors() {
			return nil, fmt.Errorf("parsing %s: %s", p, diags.Error())
		}
		s.blocks = append(s.blocks, f.Body.(*hclsyntax.Body).Blocks...)
	}
	return s, nil
}

// block finds a top-level block such as resource "aws_lb_target_group" "app".
func (s *tfStack) block(typ string, labels ...string) (*hclsyntax.Block, error) {
	for _, b := range s.blocks {
		if b.Type == typ && reflect.DeepEqual(b.Labels, labels) {
			return b, nil
		}
	}
	return nil, fmt.Errorf("terraform/: no %s %q", typ, labels)
}

func (s *tfStack) blocksOf(typ, label string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range s.blocks {
		if b.Type == typ && len(b.Labels) > 0 && b.Labels[0] == label {
			out = append(out, b)
		}
	}
	return out
}

// tfAttr returns the expression at path inside b: nested block types, then the attribute name.
func tfAttr(b *hclsyntax.Block, path ...string) (hclsyntax.Expression, error) {
	body := b.Body
	for _, name := range path[:len(path)-1] {
		var next *hclsyntax.Body
		for _, nb := range body.Blocks {
			if nb.Type == name {
				next = nb.Body
				break
			}
		}
		if next == nil {
			return nil, fmt.Errorf("%s %q has no %s block", b.Type, b.Labels, name)
		}
		body = next
	}
	a, ok := body.Attributes[path[len(path)-1]]
	if !ok {
		return nil, fmt.Errorf("%s %q has no %s", b.Type, b.Labels, strings.Join(path, "."))
	}
	return a.Expr, nil
}

// tfEnv is one evaluation setting: variable overrides and contract fields replaced by probes.
type tfEnv struct {
	vars  map[string]cty.Value
	probe map[string]cty.Value
}

// ctx evaluates the variables' defaults (with overrides) and every local it can.
func (s *tfStack) ctx(env tfEnv) (*hcl.EvalContext, error) {
	vars := map[string]cty.Value{}
	for _, b := range s.blocks {
		if b.Type != "variable" {
			continue
		}
		name := b.Labels[0]
		if v, ok := env.vars[name]; ok {
			vars[name] = v
			continue
		}
		if a, ok := b.Body.Attributes["default"]; ok {
			v, diags := a.Expr.Value(nil)
			if diags.HasErrors() {
				return nil, fmt.Errorf("variable %q default: %s", name, diags.Error())
			}
			vars[name] = v
		} else {
			vars[name] = cty.DynamicVal
		}
	}
	delivery := "ami"
	if d, ok := vars["delivery"]; ok && d.Type() == cty.String && d.IsKnown() && !d.IsNull() {
		delivery = d.AsString()
	}
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":  cty.ObjectVal(vars),
			"path": cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal(s.dir())}),
		},
		Functions: tfFunctions(true),
	}
	for k, v := range tfStandIns(delivery) {
		ctx.Variables[k] = v
	}

	locals := map[string]hclsyntax.Expression{}
	for _, b := range s.blocks {
		if b.Type == "locals" {
			for name, a := range b.Body.Attributes {
				locals[name] = a.Expr
			}
		}
	}
	known := map[string]cty.Value{}
	// Locals depend on each other: evaluate in rounds until a round adds nothing.
	for progress := true; progress; {
		progress = false
		ctx.Variables["local"] = cty.ObjectVal(known)
		for name, expr := range locals {
			if _, done := known[name]; done {
				continue
			}
			v, diags := expr.Value(ctx)
			if diags.HasErrors() {
				continue
			}
			if name == "contract" {
				v = tfWithProbes(v, env.probe)
			}
			known[name] = v
			progress = true
			ctx.Variables["local"] = cty.ObjectVal(known)
		}
	}
	if _, ok := known["contract"]; !ok {
		_, diags := locals["contract"].Value(ctx)
		return nil, fmt.Errorf("local.contract does not evaluate: %v", diags)
	}
	for name := range locals { // what is left depends on something unknown here
		if _, ok := known[name]; !ok {
			known[name] = cty.DynamicVal
		}
	}
	ctx.Variables["local"] = cty.ObjectVal(known)
	return ctx, nil
}

func tfWithProbes(contract cty.Value, probe map[string]cty.Value) cty.Value {
	if len(probe) == 0 {
		return contract
	}
	m := contract.AsValueMap()
	for k, v := range probe {
		m[k] = v
	}
	return cty.ObjectVal(m)
}

// tfStandIns are the resource and data source attributes the locals read, as AWS would return them.
func tfStandIns(delivery string) map[string]cty.Value {
	one := func(m map[string]cty.Value) cty.Value { return cty.TupleVal([]cty.Value{cty.ObjectVal(m)}) }
	ecr, amiData, ssm := cty.EmptyTupleVal, one(map[string]cty.Value{
		"id": cty.StringVal("ami-0123456789abcdef0"), "root_device_name": cty.StringVal("/dev/xvda"),
	}), cty.EmptyTupleVal
	if delivery == "container" {
		ecr = one(map[string]cty.Value{
			"repository_url": cty.StringVal("123456789012.dkr.ecr.eu-west-1.amazonaws.com/scaleapp"),
			"arn":            cty.StringVal("arn:aws:ecr:eu-west-1:123456789012:repository/scaleapp"),
		})
		amiData = cty.EmptyTupleVal
		ssm = one(map[string]cty.Value{"insecure_value": cty.StringVal("ami-0fedcba9876543210")})
	}
	obj := cty.ObjectVal
	return map[string]cty.Value{
		"aws_ecr_repository":    obj(map[string]cty.Value{"this": ecr}),
		"aws_lb":                obj(map[string]cty.Value{"this": obj(map[string]cty.Value{"dns_name": cty.StringVal("scaleapp-1.eu-west-1.elb.amazonaws.com")})}),
		"aws_autoscaling_group": obj(map[string]cty.Value{"app": obj(map[string]cty.Value{"name": cty.StringVal("scaleapp")})}),
		"aws_lb_target_group": obj(map[string]cty.Value{"app": obj(map[string]cty.Value{
			"arn": cty.StringVal("arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/scaleapp/0123456789abcdef"),
		})}),
		"aws_launch_template": obj(map[string]cty.Value{"app": obj(map[string]cty.Value{"latest_version": cty.NumberIntVal(3)})}),
		"data": obj(map[string]cty.Value{
			"aws_availability_zones": obj(map[string]cty.Value{"available": obj(map[string]cty.Value{
				"names": cty.ListVal([]cty.Value{cty.StringVal("eu-west-1a"), cty.StringVal("eu-west-1b"), cty.StringVal("eu-west-1c")}),
			})}),
			"aws_ami":           obj(map[string]cty.Value{"app": amiData}),
			"aws_ssm_parameter": obj(map[string]cty.Value{"container_host_ami": ssm}),
			"aws_partition":     obj(map[string]cty.Value{"current": obj(map[string]cty.Value{"partition": cty.StringVal("aws")})}),
		}),
	}
}

// tfFunctions are the Terraform functions the evaluated expressions use, with Terraform's semantics.
func tfFunctions(withTemplates bool) map[string]function.Function {
	fs := map[string]function.Function{
		"coalesce": stdlib.CoalesceFunc, "concat": stdlib.ConcatFunc, "join": stdlib.JoinFunc,
		"jsondecode": stdlib.JSONDecodeFunc, "jsonencode": stdlib.JSONEncodeFunc,
		"lookup": stdlib.LookupFunc, "merge": stdlib.MergeFunc, "slice": stdlib.SliceFunc, "split": stdlib.SplitFunc,
		"regex": stdlib.RegexFunc, "can": tryfunc.CanFunc, "try": tryfunc.TryFunc,
		"length": function.New(&function.Spec{ // Terraform's counts a string's characters too
			Params: []function.Parameter{{Name: "v", Type: cty.DynamicPseudoType}},
			Type:   function.StaticReturnType(cty.Number),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				if args[0].Type() == cty.String {
					return stdlib.Strlen(args[0])
				}
				return stdlib.Length(args[0])
			},
		}),
		"tonumber": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "v", Type: cty.DynamicPseudoType}},
			Type:   function.StaticReturnType(cty.Number),
			Impl:   func(args []cty.Value, _ cty.Type) (cty.Value, error) { return convert.Convert(args[0], cty.Number) },
		}),
		"cidrhost": function.New(&function.Spec{ // Terraform's: net.ParseCIDR, then the hostnum-th address
			Params: []function.Parameter{{Name: "prefix", Type: cty.String}, {Name: "hostnum", Type: cty.Number}},
			Type:   function.StaticReturnType(cty.String),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				_, n, err := net.ParseCIDR(args[0].AsString())
				if err != nil {
					return cty.NilVal, err
				}
				ip := n.IP
				if v4 := ip.To4(); v4 != nil {
					ip = v4
				}
				ones, bits := n.Mask.Size()
				h, _ := args[1].AsBigFloat().Int(nil)
				if h.Sign() < 0 || h.BitLen() > bits-ones {
					return cty.NilVal, fmt.Errorf("prefix of %d bits cannot hold host %s", ones, h)
				}
				sum := new(big.Int).Add(new(big.Int).SetBytes(ip), h).FillBytes(make([]byte, len(ip)))
				return cty.StringVal(net.IP(sum).String()), nil
			},
		}),
		"nonsensitive": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "v", Type: cty.DynamicPseudoType, AllowNull: true}},
			Type:   function.StaticReturnType(cty.DynamicPseudoType),
			Impl:   func(args []cty.Value, _ cty.Type) (cty.Value, error) { return args[0], nil },
		}),
		"file": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "path", Type: cty.String}},
			Type:   function.StaticReturnType(cty.String),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				b, err := os.ReadFile(args[0].AsString())
				return cty.StringVal(string(b)), err
			},
		}),
	}
	if withTemplates {
		fs["templatefile"] = function.New(&function.Spec{
			Params: []function.Parameter{{Name: "path", Type: cty.String}, {Name: "vars", Type: cty.DynamicPseudoType}},
			Type:   function.StaticReturnType(cty.String),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				src, err := os.ReadFile(args[0].AsString())
				if err != nil {
					return cty.NilVal, err
				}
				tpl, diags := hclsyntax.ParseTemplate(src, args[0].AsString(), hcl.InitialPos)
				if diags.HasErrors() {
					return cty.NilVal, diags
				}
				v, diags := tpl.Value(&hcl.EvalContext{Variables: args[1].AsValueMap(), Functions: tfFunctions(false)})
				if diags.HasErrors() {
					return cty.NilVal, diags
				}
				return v, nil
			},
		})
	}
	return fs
}

func tfEval(ctx *hcl.EvalContext, expr hclsyntax.Expression) (cty.Value, error) {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return cty.NilVal, errors.New(diags.Error())
	}
	if !v.IsWhollyKnown() {
		return cty.NilVal, fmt.Errorf("%s does not evaluate to a known value here", tfSource(expr))
	}
	return v, nil
}

// tfEvalAt evaluates the attribute at path of b under env.
func (s *tfStack) tfEvalAt(env tfEnv, b *hclsyntax.Block, path ...string) (cty.Value, error) {
	expr, err := tfAttr(b, path...)
	if err != nil {
		return cty.NilVal, err
	}
	ctx, err := s.ctx(env)
	if err != nil {
		return cty.NilVal, err
	}
	return tfEval(ctx, expr)
}

func tfSource(expr hclsyntax.Expression) string {
	r := expr.Range()
	src, err := os.ReadFile(r.Filename)
	if err != nil || r.End.Byte > len(src) {
		return r.String()
	}
	return fmt.Sprintf("%s (%s:%d)", src[r.Start.Byte:r.End.Byte], filepath.Base(r.Filename), r.Start.Line)
}

func tfNumber(v cty.Value) (float64, error) {
	if v.Type() != cty.Number {
		return 0, fmt.Errorf("%#v is not a number", v)
	}
	f, _ := v.AsBigFloat().Float64()
	return f, nil
}

func tfString(v cty.Value) string {
	if v.Type() == cty.String {
		return v.AsString()
	}
	if v.Type() == cty.Number {
		return v.AsBigFloat().Text('f', -1)
	}
	return v.GoString()
}

// tfFollows asserts that the attribute evaluates to want under the real contract and to the probe when
// contract field is replaced by probe: it reads the contract, it does not repeat it.
func (s *tfStack) tfFollows(b *hclsyntax.Block, path []string, field string, want, probe cty.Value) error {
	got, err := s.tfEvalAt(tfEnv{}, b, path...)
	if err != nil {
		return err
	}
	if tfString(got) != tfString(want) {
		return fmt.Errorf("%s %q %s = %s, the contract's %s is %s", b.Type, b.Labels, strings.Join(path, "."), tfString(got), field, tfString(want))
	}
	probed, err := s.tfEvalAt(tfEnv{probe: map[string]cty.Value{field: probe}}, b, path...)
	if err != nil {
		return err
	}
	if tfString(probed) != tfString(probe) {
		expr, _ := tfAttr(b, path...)
		return fmt.Errorf("%s %q %s does not follow contract.json's %s (a copy instead of local.contract.%s?): %s", b.Type, b.Labels, strings.Join(path, "."), field, field, tfSource(expr))
	}
	return nil
}

// renderUserData renders module.user_data's output for delivery, runs bash -n and shellcheck on it, and returns it
// without its comment lines (only commands count: a comment that mentions --restart=always does not
// restart anything). renderUserDataRaw keeps them.
func (s *tfStack) renderUserData(delivery string, probe map[string]cty.Value) (string, error) {
	raw, err := s.renderUserDataRaw(delivery, probe)
	if err != nil {
		return "", err
	}
	return regexp.MustCompile(`(?m)^\s*#.*\n`).ReplaceAllString(raw, ""), nil
}

func (s *tfStack) renderUserDataRaw(delivery string, probe map[string]cty.Value) (string, error) {
	ctx, err := s.ctx(tfEnv{vars: map[string]cty.Value{
		"delivery": cty.StringVal(delivery), "container_image_tag": cty.StringVal("v1.0.0"),
		"stress_token": cty.StringVal("t0ken"),
	}, probe: probe})
	if err != nil {
		return "", err
	}
	ud, err := s.moduleOutput(ctx, "user_data", delivery)
	if err != nil {
		return "", err
	}
	if !ud.IsWhollyKnown() || ud.Type() != cty.String {
		return "", fmt.Errorf("module.user_data.%s does not render to a string", delivery)
	}
	script := ud.AsString()
	if len(probe) == 0 {
		// What runs: cloud-init strips a boothook's first line and executes the rest.
		if err := tfShellcheck(strings.TrimPrefix(script, "#cloud-boothook\n")); err != nil {
			return "", fmt.Errorf("user data for delivery %q: %w", delivery, err)
		}
	}
	return script, nil
}

// moduleOutput evaluates output `output` of the root's module block `name` (a local ./modules/...
// source) as Terraform would: the module's variables get the call's arguments, evaluated in the root's
// ctx (so contract probes reach it), or their defaults; then its locals, then the output.
func (s *tfStack) moduleOutput(ctx *hcl.EvalContext, name, output string) (cty.Value, error) {
	call, err := s.block("module", name)
	if err != nil {
		return cty.NilVal, err
	}
	src, err := tfEval(ctx, call.Body.Attributes["source"].Expr)
	if err != nil {
		return cty.NilVal, fmt.Errorf("module %q source: %w", name, err)
	}
	dir := filepath.Join(s.dir(), src.AsString())
	mod, err := loadTFStack(s.root, dir)
	if err != nil {
		return cty.NilVal, fmt.Errorf("module %q: %w", name, err)
	}
	vars := map[string]cty.Value{}
	for _, b := range mod.blocks {
		if b.Type != "variable" {
			continue
		}
		v := b.Labels[0]
		a, ok := call.Body.Attributes[v]
		if !ok {
			a, ok = b.Body.Attributes["default"]
		}
		if !ok {
			return cty.NilVal, fmt.Errorf("module %q: variable %q is neither passed nor defaulted", name, v)
		}
		if vars[v], err = tfEval(ctx, a.Expr); err != nil {
			return cty.NilVal, fmt.Errorf("module %q variable %q: %w", name, v, err)
		}
	}
	for arg := range call.Body.Attributes {
		if _, ok := vars[arg]; !ok && arg != "source" {
			return cty.NilVal, fmt.Errorf("module %q: argument %q is not a variable of %s", name, arg, dir)
		}
	}
	mctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":  cty.ObjectVal(vars),
			"path": cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal(dir)}),
		},
		Functions: tfFunctions(true),
	}
	locals := map[string]cty.Value{}
	for progress := true; progress; { // locals may depend on each other
		progress = false
		mctx.Variables["local"] = cty.ObjectVal(locals)
		for _, b := range mod.blocks {
			for l, a := range b.Body.Attributes {
				if _, done := locals[l]; b.Type != "locals" || done {
					continue
				}
				if v, diags := a.Expr.Value(mctx); !diags.HasErrors() {
					locals[l], progress = v, true
					mctx.Variables["local"] = cty.ObjectVal(locals)
				}
			}
		}
	}
	out, err := mod.block("output", output)
	if err != nil {
		return cty.NilVal, fmt.Errorf("module %q: %w", name, err)
	}
	return tfEval(mctx, out.Body.Attributes["value"].Expr)
}

func tfShellcheck(script string) error {
	if out, err := tfRunWithStdin(script, "bash", "-n"); err != nil {
		return fmt.Errorf("bash -n: %v\n%s", err, out)
	}
	if _, err := exec.LookPath("shellcheck"); err != nil {
		return errors.New("shellcheck is not installed (scripts/install-tools.sh installs it)")
	}
	if out, err := tfRunWithStdin(script, "shellcheck", "-s", "bash", "-"); err != nil {
		return fmt.Errorf("shellcheck: %v\n%s", err, out)
	}
	return nil
}

func tfRunWithStdin(stdin string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// tfUnitTimeoutStopSec reads TimeoutStopSec= (plain seconds or "Ns") from packer's unit file.
func tfUnitTimeoutStopSec(path string) (int, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("the unit file packer bakes: %w", err)
	}
	m := regexp.MustCompile(`(?m)^TimeoutStopSec=(\S+)\s*$`).FindAllSubmatch(src, -1)
	if len(m) != 1 {
		return 0, fmt.Errorf("%s: want exactly one TimeoutStopSec= line, found %d", path, len(m))
	}
	n, err := strconv.Atoi(strings.TrimSuffix(string(m[0][1]), "s"))
	if err != nil {
		return 0, fmt.Errorf("%s: TimeoutStopSec=%s is not a number of seconds this test understands", path, m[0][1])
	}
	return n, nil
}

func (s *tfStack) targetGroup() (*hclsyntax.Block, error) {
	return s.block("resource", "aws_lb_target_group", "app")
}

func (s *tfStack) healthCheckNumbers() (map[string]float64, error) {
	tg, err := s.targetGroup()
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, k := range []string{"timeout", "interval", "healthy_threshold", "unhealthy_threshold"} {
		v, err := s.tfEvalAt(tfEnv{}, tg, "health_check", k)
		if err != nil {
			return nil, err
		}
		if out[k], err = tfNumber(v); err != nil {
			return nil, fmt.Errorf("health_check.%s: %w", k, err)
		}
	}
	return out, nil
}

// tfValid evaluates every validation block of variable name with vars set (the rest at their
// defaults, as terraform plan does) and returns whether all conditions hold.
func (s *tfStack) tfValid(name string, vars map[string]cty.Value) (bool, error) {
	v, err := s.block("variable", name)
	if err != nil {
		return false, err
	}
	ctx, err := s.ctx(tfEnv{vars: vars})
	if err != nil {
		return false, err
	}
	n := 0
	for _, b := range v.Body.Blocks {
		if b.Type != "validation" {
			continue
		}
		n++
		c, err := tfEval(ctx, b.Body.Attributes["condition"].Expr)
		if err != nil {
			return false, fmt.Errorf("variable %q: %w", name, err)
		}
		if c.Type() != cty.Bool {
			return false, fmt.Errorf("variable %q: condition is %s, not a bool", name, c.Type().FriendlyName())
		}
		if c.False() {
			return false, nil
		}
	}
	if n == 0 {
		return false, fmt.Errorf("variable %q has no validation", name)
	}
	return true, nil
}

type tfCheck struct {
	name string
	run  func(s *tfStack) error
}

var tfChecks = []tfCheck{
	{"contract local is contract.json", func(s *tfStack) error {
		ctx, err := s.ctx(tfEnv{})
		if err != nil {
			return err
		}
		b, err := ctyjson.Marshal(ctx.Variables["local"].GetAttr("contract"), cty.DynamicPseudoType)
		if err != nil {
			return err
		}
		var wrapped struct{ Value Contract }
		if err := json.Unmarshal(b, &wrapped); err != nil {
			return err
		}
		if wrapped.Value != C {
			return fmt.Errorf("local.contract = %+v, contract.json = %+v", wrapped.Value, C)
		}
		return nil
	}},
	{"target group port is the contract port", func(s *tfStack) error {
		tg, err := s.targetGroup()
		if err != nil {
			return err
		}
		return s.tfFollows(tg, []string{"port"}, "port", cty.NumberIntVal(int64(s.c.Port)), cty.NumberIntVal(18081))
	}},
	{"health check path is the contract path", func(s *tfStack) error {
		tg, err := s.targetGroup()
		if err != nil {
			return err
		}
		if err := s.tfFollows(tg, []string{"health_check", "path"}, "health_path", cty.StringVal(s.c.HealthPath), cty.StringVal("/probe-health")); err != nil {
			return err
		}
		// Only 200 is healthy: the service's 503 DRAINING and UNHEALTHY must take it out of rotation.
		m, err := s.tfEvalAt(tfEnv{}, tg, "health_check", "matcher")
		if err != nil {
			return err
		}
		if tfString(m) != "200" {
			return fmt.Errorf("health_check.matcher = %s, want 200", tfString(m))
		}
		return nil
	}},
	{"deregistration delay is the drain delay", func(s *tfStack) error {
		tg, err := s.targetGroup()
		if err != nil {
			return err
		}
		return s.tfFollows(tg, []string{"deregistration_delay"}, "drain_delay_seconds", cty.NumberIntVal(int64(s.c.DrainDelaySeconds)), cty.NumberIntVal(27))
	}},
	{"health check timing is the contract's", func(s *tfStack) error {
		tg, err := s.targetGroup()
		if err != nil {
			return err
		}
		// The ALB (and the local HAProxy lab) read contract.json's health_check: a probe in each field
		// must come out of the target group's health_check block.
		probe := map[string]int64{"interval_seconds": 7, "timeout_seconds": 3, "healthy_threshold": 4, "unhealthy_threshold": 6}
		attr := map[string]string{"interval_seconds": "interval", "timeout_seconds": "timeout", "healthy_threshold": "healthy_threshold", "unhealthy_threshold": "unhealthy_threshold"}
		pv := map[string]cty.Value{}
		for k, v := range probe {
			pv[k] = cty.NumberIntVal(v)
		}
		for field, want := range probe {
			got, err := s.tfEvalAt(tfEnv{probe: map[string]cty.Value{"health_check": cty.ObjectVal(pv)}}, tg, "health_check", attr[field])
			if err != nil {
				return err
			}
			if tfString(got) != strconv.FormatInt(want, 10) {
				expr, _ := tfAttr(tg, "health_check", attr[field])
				return fmt.Errorf("health_check.%s does not follow contract.json's health_check.%s (a copy instead of local.contract.health_check.%s?): %s", attr[field], field, field, tfSource(expr))
			}
		}
		return nil
	}},
	{"health check timing fits the service", func(s *tfStack) error {
		hc, err := s.healthCheckNumbers()
		if err != nil {
			return err
		}
		// A busy instance must not time out: the timeout is at least 100x the service's latency budget.
		if hc["timeout"]*1000 < 100*float64(s.c.HealthBudgetMS) {
			return fmt.Errorf("health_check.timeout %gs < 100 x health_budget_ms (%d ms)", hc["timeout"], s.c.HealthBudgetMS)
		}
		if hc["timeout"] >= hc["interval"] {
			return fmt.Errorf("health_check.timeout %gs must be below interval %gs", hc["timeout"], hc["interval"])
		}
		// A draining instance (503) must leave rotation before the service stops accepting connections.
		if out := hc["interval"] * hc["unhealthy_threshold"]; out >= float64(s.c.DrainDelaySeconds) {
			return fmt.Errorf("interval x unhealthy_threshold = %gs, not below DRAIN_DELAY %ds", out, s.c.DrainDelaySeconds)
		}
		return nil
	}},
	{"unit stop timeout covers drain and shutdown", func(s *tfStack) error {
		stop, err := tfUnitTimeoutStopSec(filepath.Join(s.root, "packer", s.c.Unit))
		if err != nil {
			return err
		}
		if budget := s.c.DrainDelaySeconds + s.c.ShutdownTimeoutSeconds; stop <= budget {
			return fmt.Errorf("packer/%s TimeoutStopSec=%d <= drain %d s + shutdown %d s: systemd would SIGKILL a draining service", s.c.Unit, stop, s.c.DrainDelaySeconds, s.c.ShutdownTimeoutSeconds)
		}
		return nil
	}},
	{"ami user data writes the env file before the contract unit starts", func(s *tfStack) error {
		raw, err := s.renderUserDataRaw("ami", nil)
		if err != nil {
			return err
		}
		// A boothook runs in cloud-init.service, so the file exists before the unit's first start,
		// provided the unit is ordered after cloud-init.service (packer/test/image-test.sh boots it).
		if !strings.HasPrefix(raw, "#cloud-boothook\n#!/bin/bash\n") {
			return fmt.Errorf("ami user data must start with #cloud-boothook and a #!/bin/bash line, starts with %q", firstLine(raw))
		}
		unit, err := os.ReadFile(filepath.Join(s.root, "packer", s.c.Unit))
		if err != nil {
			return fmt.Errorf("the unit file packer bakes: %w", err)
		}
		if !regexp.MustCompile(`(?m)^After=.*\bcloud-init\.service\b`).Match(unit) {
			return fmt.Errorf("packer/%s lacks After=cloud-init.service: the service could start before user data wrote %s", s.c.Unit, s.c.EnvFile)
		}
		script, err := s.renderUserData("ami", nil)
		if err != nil {
			return err
		}
		// Restart only a unit that is already running, and without waiting: the boothook runs inside
		// cloud-init.service, which the unit is ordered after; a blocking restart would deadlock the boot.
		if regexp.MustCompile(`systemctl (re)?start `).MatchString(script) {
			return errors.New("ami user data starts or restarts the unit synchronously: deadlock inside cloud-init.service, and a drain at every boot")
		}
		for _, want := range []string{
			"systemctl try-restart --no-block " + s.c.Unit + "\n", s.c.EnvFile,
			fmt.Sprintf("PORT=%d\n", s.c.Port), fmt.Sprintf("DRAIN_DELAY=%ds\n", s.c.DrainDelaySeconds),
			fmt.Sprintf("SHUTDOWN_TIMEOUT=%ds\n", s.c.ShutdownTimeoutSeconds), "STRESS_TOKEN=t0ken\n",
		} {
			if !strings.Contains(script, want) {
				return fmt.Errorf("ami user data lacks %q:\n%s", want, script)
			}
		}
		if m := regexp.MustCompile(`(?m)^[^#\n]*\b(curl|wget|dnf|yum|docker|aws|git)\b`).FindString(script); m != "" {
			return fmt.Errorf("ami user data downloads or pulls (%q): the AMI path must boot from the image alone", m)
		}
		probed, err := s.renderUserData("ami", map[string]cty.Value{"unit": cty.StringVal("probe-unit.service"), "env_file": cty.StringVal("/etc/probe/env")})
		if err != nil {
			return err
		}
		if !strings.Contains(probed, "systemctl try-restart --no-block probe-unit.service") || strings.Contains(probed, s.c.Unit) ||
			!strings.Contains(probed, "/etc/probe/env") || strings.Contains(probed, s.c.EnvFile) {
			return fmt.Errorf("ami user data does not take the unit and env file from local.contract (a literal in templates/?):\n%s", probed)
		}
		return nil
	}},
	{"container user data pulls with the role and runs like the unit", func(s *tfStack) error {
		script, err := s.renderUserData("container", nil)
		if err != nil {
			return err
		}
		for _, want := range []string{
			"aws ecr get-login-password", "--password-stdin", "--restart=always", "--env-file " + s.c.EnvFile,
			fmt.Sprintf("--publish %d:%d", s.c.Port, s.c.Port), ".amazonaws.com/scaleapp:v1.0.0", fmt.Sprintf("PORT=%d\n", s.c.Port),
		} {
			if !strings.Contains(script, want) {
				return fmt.Errorf("container user data lacks %q:\n%s", want, script)
			}
		}
		if regexp.MustCompile(`AKIA|AWS_SECRET_ACCESS_KEY|aws_secret_access_key`).MatchString(script) {
			return errors.New("container user data holds static AWS keys")
		}
		m := regexp.MustCompile(`--stop-timeout (\d+)`).FindStringSubmatch(script)
		if m == nil {
			return errors.New("container user data sets no --stop-timeout: docker stop would SIGKILL after 10 s, mid-drain")
		}
		if n, _ := strconv.Atoi(m[1]); n <= s.c.DrainDelaySeconds+s.c.ShutdownTimeoutSeconds {
			return fmt.Errorf("--stop-timeout %d <= drain + shutdown (%d s)", n, s.c.DrainDelaySeconds+s.c.ShutdownTimeoutSeconds)
		}
		probed, err := s.renderUserData("container", map[string]cty.Value{"port": cty.NumberIntVal(18081)})
		if err != nil {
			return err
		}
		if !strings.Contains(probed, "--publish 18081:18081") {
			return errors.New("container user data does not publish local.contract.port")
		}
		return nil
	}},
	{"AMI lookup filters on the tag Packer writes", func(s *tfStack) error {
		ami, err := s.block("data", "aws_ami", "app")
		if err != nil {
			return err
		}
		owners, err := s.tfEvalAt(tfEnv{}, ami, "owners")
		if err != nil {
			return err
		}
		if !owners.Equals(cty.TupleVal([]cty.Value{cty.StringVal("self")})).True() {
			return fmt.Errorf("data.aws_ami.app owners = %s, want [\"self\"] (only this account's bakes)", owners.GoString())
		}
		filter := func(env tfEnv) (map[string]string, error) {
			ctx, err := s.ctx(env)
			if err != nil {
				return nil, err
			}
			out := map[string]string{}
			for _, f := range ami.Body.Blocks {
				if f.Type != "filter" {
					continue
				}
				n, err := tfEval(ctx, f.Body.Attributes["name"].Expr)
				if err != nil {
					return nil, err
				}
				v, err := tfEval(ctx, f.Body.Attributes["values"].Expr)
				if err != nil {
					return nil, err
				}
				var vals []string
				for it := v.ElementIterator(); it.Next(); {
					_, e := it.Element()
					vals = append(vals, tfString(e))
				}
				out[n.AsString()] = strings.Join(vals, ",")
			}
			return out, nil
		}
		got, err := filter(tfEnv{})
		if err != nil {
			return err
		}
		if got["tag:"+s.c.AMITagKey] != s.c.AMITagValue {
			return fmt.Errorf("data.aws_ami.app filters %v, want tag:%s = %s", got, s.c.AMITagKey, s.c.AMITagValue)
		}
		probed, err := filter(tfEnv{probe: map[string]cty.Value{"ami_tag_key": cty.StringVal("probekey"), "ami_tag_value": cty.StringVal("probevalue")}})
		if err != nil {
			return err
		}
		if probed["tag:probekey"] != "probevalue" {
			return fmt.Errorf("data.aws_ami.app's tag filter does not follow local.contract.ami_tag_key/value: %v", probed)
		}
		return nil
	}},
	{"variables for the tfvars file Packer writes", func(s *tfStack) error {
		want := map[string]string{s.c.AMIVariable: "string", "ami_ids": "map(string)", "ami_version": "string", "ami_commit": "string", "ami_architecture": "string"}
		for name, typ := range want {
			v, err := s.block("variable", name)
			if err != nil {
				return fmt.Errorf("%w: the Packer plugin writes %q into %s", err, name, s.c.TFVarsFile)
			}
			expr, err := tfAttr(v, "type")
			if err != nil {
				return err
			}
			if got := strings.Join(strings.Fields(strings.SplitN(tfSource(expr), " (", 2)[0]), ""); got != typ {
				return fmt.Errorf("variable %q has type %s, the tfvars file holds a %s", name, got, typ)
			}
			if _, ok := v.Body.Attributes["default"]; !ok {
				return fmt.Errorf("variable %q has no default: terraform apply without a bake would ask for it", name)
			}
		}
		gi, err := os.ReadFile(filepath.Join(s.root, ".gitignore"))
		if err != nil {
			return err
		}
		if !regexp.MustCompile(`(?m)^/?terraform/` + regexp.QuoteMeta(s.c.TFVarsFile) + `$`).Match(gi) {
			return fmt.Errorf(".gitignore does not ignore terraform/%s (a per-bake, per-account file)", s.c.TFVarsFile)
		}
		return nil
	}},
	{"ASG refreshes, keeps its capacity and heals on ELB health", func(s *tfStack) error {
		asg, err := s.block("resource", "aws_autoscaling_group", "app")
		if err != nil {
			return err
		}
		ver, err := tfAttr(asg, "launch_template", "version")
		if err != nil {
			return err
		}
		st, ok := ver.(*hclsyntax.ScopeTraversalExpr)
		if !ok || len(st.Traversal) != 3 || st.Traversal.RootName() != "aws_launch_template" ||
			st.Traversal[2].(hcl.TraverseAttr).Name != "latest_version" {
			return fmt.Errorf("launch_template.version is %s; use aws_launch_template.NAME.latest_version so a new version triggers the instance refresh", tfSource(ver))
		}
		if v, err := s.tfEvalAt(tfEnv{}, asg, "health_check_type"); err != nil || tfString(v) != "ELB" {
			return fmt.Errorf("health_check_type must be ELB (got %v, %v)", v, err)
		}
		if v, err := s.tfEvalAt(tfEnv{}, asg, "instance_refresh", "strategy"); err != nil || tfString(v) != "Rolling" {
			return fmt.Errorf("instance_refresh.strategy must be Rolling (got %v, %v)", v, err)
		}
		if v, err := s.tfEvalAt(tfEnv{}, asg, "instance_refresh", "preferences", "auto_rollback"); err != nil || !v.True() {
			return fmt.Errorf("instance_refresh.preferences.auto_rollback must be true (got %v, %v)", v, err)
		}
		ic, err := tfAttr(asg, "lifecycle", "ignore_changes")
		if err != nil {
			return err
		}
		if !regexp.MustCompile(`\bdesired_capacity\b`).MatchString(tfSource(ic)) {
			return fmt.Errorf("lifecycle.ignore_changes = %s: without desired_capacity every apply resets the scaling policy's work", tfSource(ic))
		}
		hc, err := s.healthCheckNumbers()
		if err != nil {
			return err
		}
		grace := map[string]float64{}
		for _, d := range []string{"ami", "container"} {
			v, err := s.tfEvalAt(tfEnv{vars: map[string]cty.Value{"delivery": cty.StringVal(d)}}, asg, "health_check_grace_period")
			if err != nil {
				return err
			}
			if grace[d], err = tfNumber(v); err != nil {
				return err
			}
			if _, err := s.tfEvalAt(tfEnv{vars: map[string]cty.Value{"delivery": cty.StringVal(d)}}, asg, "default_instance_warmup"); err != nil {
				return err
			}
		}
		// Long enough for a good instance, short enough that a broken one is not kept for the 300 s
		// default; the container path boots longer.
		// At least a fast OS boot (20 s) plus the checks that turn a target healthy.
		minGrace := 20 + hc["interval"]*hc["healthy_threshold"]
		if grace["ami"] < minGrace || grace["ami"] > 120 || grace["container"] <= grace["ami"] {
			return fmt.Errorf("health_check_grace_period ami=%gs container=%gs: want ami in [%g, 120] and container above it", grace["ami"], grace["container"], minGrace)
		}
		return nil
	}},
	{"instances admit only the app port from the ALB", func(s *tfStack) error {
		var rules []*hclsyntax.Block
		for _, r := range s.blocksOf("resource", "aws_vpc_security_group_ingress_rule") {
			sg, err := tfAttr(r, "security_group_id")
			if err == nil && strings.HasPrefix(tfSource(sg), "aws_security_group.instances.") {
				rules = append(rules, r)
			}
		}
		for _, r := range s.blocksOf("resource", "aws_security_group") {
			for _, nb := range r.Body.Blocks {
				if nb.Type == "ingress" {
					return fmt.Errorf("aws_security_group %q has inline ingress rules; use aws_vpc_security_group_ingress_rule", r.Labels)
				}
			}
		}
		if len(rules) != 1 {
			return fmt.Errorf("want exactly one ingress rule on the instances' group, found %d", len(rules))
		}
		r := rules[0]
		if src, err := tfAttr(r, "referenced_security_group_id"); err != nil || !strings.HasPrefix(tfSource(src), "aws_security_group.alb.") {
			return fmt.Errorf("ingress rule %q must admit only the ALB's security group (referenced_security_group_id = aws_security_group.alb.id)", r.Labels)
		}
		for _, k := range []string{"cidr_ipv4", "cidr_ipv6", "prefix_list_id"} {
			if _, ok := r.Body.Attributes[k]; ok {
				return fmt.Errorf("ingress rule %q also admits %s", r.Labels, k)
			}
		}
		for _, k := range []string{"from_port", "to_port"} {
			if err := s.tfFollows(r, []string{k}, "port", cty.NumberIntVal(int64(s.c.Port)), cty.NumberIntVal(18081)); err != nil {
				return err
			}
		}
		return nil
	}},
	{"ECR and IAM only on the path that needs them", func(s *tfStack) error {
		counts := []struct {
			typ, name string
			vars      map[string]cty.Value
			want      string
		}{
			{"aws_iam_role_policy", "ecr_pull", map[string]cty.Value{"delivery": cty.StringVal("ami")}, "0"},
			{"aws_iam_role_policy", "ecr_pull", map[string]cty.Value{"delivery": cty.StringVal("container"), "container_image_tag": cty.StringVal("v1")}, "1"},
			{"aws_ecr_repository", "this", map[string]cty.Value{"delivery": cty.StringVal("ami")}, "0"},
			{"aws_iam_role_policy_attachment", "cloudwatch_agent", map[string]cty.Value{"enable_cloudwatch_agent": cty.False}, "0"},
			{"aws_iam_role_policy_attachment", "cloudwatch_agent", map[string]cty.Value{"enable_cloudwatch_agent": cty.True}, "1"},
		}
		for _, c := range counts {
			b, err := s.block("resource", c.typ, c.name)
			if err != nil {
				return err
			}
			v, err := s.tfEvalAt(tfEnv{vars: c.vars}, b, "count")
			if err != nil {
				return err
			}
			if tfString(v) != c.want {
				return fmt.Errorf("%s.%s count = %s with %s, want %s", c.typ, c.name, tfString(v), tfVarsString(c.vars), c.want)
			}
		}
		// The repository's settings and the pull policy's scope: terraform/tests/container.tftest.hcl.
		return nil
	}},
	{"docs and scripts name the contract unit", func(s *tfStack) error {
		files, _ := filepath.Glob(filepath.Join(s.dir(), "templates", "*"))
		files = append(files, filepath.Join(s.dir(), "README.md"), filepath.Join(s.dir(), "outputs.tf"))
		unitRE := regexp.MustCompile(`\b[A-Za-z0-9@_.-]+\.service\b`)
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			for _, u := range unitRE.FindAllString(string(src), -1) {
				if u != s.c.Unit && u != "docker.service" && u != "cloud-init.service" {
					return fmt.Errorf("%s names unit %q; the unit is %s (contract.json)", filepath.Base(f), u, s.c.Unit)
				}
			}
		}
		readme, err := os.ReadFile(filepath.Join(s.dir(), "README.md"))
		if err != nil {
			return err
		}
		base := strings.TrimSuffix(s.c.Unit, ".service")
		for _, want := range []string{s.c.Unit, "systemctl status " + base, "journalctl -u " + base} {
			if !bytes.Contains(readme, []byte(want)) {
				return fmt.Errorf("terraform/README.md does not mention %q", want)
			}
		}
		return nil
	}},
	{"outputs and ready-to-paste commands", func(s *tfStack) error {
		for _, name := range []string{"alb_dns_name", "alb_url", "target_group_arn", "autoscaling_group_name", "ami_id", "ecr_repository_url", "commands"} {
			if _, err := s.block("output", name); err != nil {
				return err
			}
		}
		out, err := s.block("output", "commands")
		if err != nil {
			return err
		}
		v, err := s.tfEvalAt(tfEnv{}, out, "value")
		if err != nil {
			return err
		}
		cmds := v.AsValueMap()
		want := map[string]string{
			"health":      "curl -fsS http://scaleapp-1.eu-west-1.elb.amazonaws.com" + s.c.HealthPath,
			"cpu_load":    "-w '%{http_code} ' -X POST 'http://scaleapp-1.eu-west-1.elb.amazonaws.com/cpu?",
			"watch_asg":   "--auto-scaling-group-names scaleapp ",
			"targets":     "aws elbv2 describe-target-health --region eu-west-1 --target-group-arn arn:aws:elasticloadbalancing:",
			"ssm_session": "systemctl status " + s.c.Unit,
		}
		for k, w := range want {
			c, ok := cmds[k]
			if !ok || !strings.Contains(c.AsString(), w) {
				return fmt.Errorf("output commands.%s = %v, want it to contain %q", k, c, w)
			}
		}
		probed, err := s.tfEvalAt(tfEnv{probe: map[string]cty.Value{"health_path": cty.StringVal("/probe-health"), "unit": cty.StringVal("probe.service")}}, out, "value")
		if err != nil {
			return err
		}
		pc := probed.AsValueMap()
		if !strings.HasSuffix(pc["health"].AsString(), "/probe-health") || !strings.Contains(pc["ssm_session"].AsString(), "systemctl status probe.service") {
			return fmt.Errorf("output commands do not take the health path and unit from local.contract: %s | %s", pc["health"].AsString(), pc["ssm_session"].AsString())
		}
		return nil
	}},
	{"vpc_cidr accepts exactly the prefixes whose subnets an ALB accepts", func(s *tfStack) error {
		subnet, err := s.block("resource", "aws_subnet", "public")
		if err != nil {
			return err
		}
		expr, err := tfAttr(subnet, "cidr_block")
		if err != nil {
			return err
		}
		m := regexp.MustCompile(`^cidrsubnet\(var\.vpc_cidr, (\d+), `).FindStringSubmatch(tfSource(expr))
		if m == nil {
			return fmt.Errorf("aws_subnet.public cidr_block is %s; this check expects cidrsubnet(var.vpc_cidr, NEWBITS, ...)", tfSource(expr))
		}
		newbits, _ := strconv.Atoi(m[1])
		// AWS: VPC prefixes from /16; the ALB's subnets at least /27 (with 8 free addresses).
		for p := 8; p <= 32; p++ {
			want := p >= 16 && p+newbits <= 27
			got, err := s.tfValid("vpc_cidr", map[string]cty.Value{"vpc_cidr": cty.StringVal(fmt.Sprintf("10.0.0.0/%d", p))})
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("vpc_cidr 10.0.0.0/%d: validation says %v, but the subnets would be /%d (an ALB needs /27 or larger, AWS a VPC of /16 or smaller)", p, got, p+newbits)
			}
		}
		for _, bad := range []string{"10.0.0.0", "10.0.0.0/x", "fd00::/56", ""} {
			if ok, err := s.tfValid("vpc_cidr", map[string]cty.Value{"vpc_cidr": cty.StringVal(bad)}); err != nil || ok {
				return fmt.Errorf("vpc_cidr %q accepted (%v)", bad, err)
			}
		}
		return nil
	}},
	{"container host AMI is a standard AL2023 image (aws CLI for the ECR login)", func(s *tfStack) error {
		const base = "/aws/service/ami-amazon-linux-latest/"
		for param, want := range map[string]bool{
			base + "al2023-ami-kernel-default-x86_64":         true,
			base + "al2023-ami-kernel-default-arm64":          true,
			base + "al2023-ami-kernel-6.1-x86_64":             true,
			base + "al2023-ami-minimal-kernel-default-x86_64": false,
			base + "al2023-ami-minimal-kernel-6.1-arm64":      false,
			base + "amzn2-ami-hvm-x86_64-gp2":                 false,
			"ami-0123456789abcdef0":                           false,
		} {
			got, err := s.tfValid("container_host_ami_parameter", map[string]cty.Value{"container_host_ami_parameter": cty.StringVal(param)})
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("container_host_ami_parameter %q: validation says %v, want %v", param, got, want)
			}
		}
		return nil
	}},
	{"HTTPS URL uses the name the certificate covers", func(s *tfStack) error {
		const cert = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
		for _, c := range []struct {
			cert, host string
			want       bool
		}{
			{"", "", true}, {"", "scaleapp.example.com", true}, {cert, "scaleapp.example.com", true},
			{cert, "", false}, // TLS to the ALB's own *.elb.amazonaws.com name cannot work
			{cert, "https://scaleapp.example.com", false}, {cert, "scaleapp.example.com/", false},
			{cert, "-x.example.com", false}, {cert, "localhost", false},
		} {
			got, err := s.tfValid("public_hostname", map[string]cty.Value{"certificate_arn": cty.StringVal(c.cert), "public_hostname": cty.StringVal(c.host)})
			if err != nil {
				return err
			}
			if got != c.want {
				return fmt.Errorf("public_hostname %q with certificate_arn %q: validation says %v, want %v", c.host, c.cert, got, c.want)
			}
		}
		out, err := s.block("output", "commands")
		if err != nil {
			return err
		}
		url, err := s.block("output", "alb_url")
		if err != nil {
			return err
		}
		for _, c := range []struct{ cert, host, want string }{
			{"", "", "http://scaleapp-1.eu-west-1.elb.amazonaws.com"},
			{cert, "scaleapp.example.com", "https://scaleapp.example.com"},
		} {
			env := tfEnv{vars: map[string]cty.Value{"certificate_arn": cty.StringVal(c.cert), "public_hostname": cty.StringVal(c.host)}}
			u, err := s.tfEvalAt(env, url, "value")
			if err != nil {
				return err
			}
			cmds, err := s.tfEvalAt(env, out, "value")
			if err != nil {
				return err
			}
			if tfString(u) != c.want || !strings.HasPrefix(cmds.GetAttr("health").AsString(), "curl -fsS "+c.want+s.c.HealthPath) {
				return fmt.Errorf("certificate_arn %q public_hostname %q: alb_url = %s, commands.health = %s; want %s", c.cert, c.host, tfString(u), cmds.GetAttr("health").AsString(), c.want)
			}
		}
		return nil
	}},
	// Ordering and replacement are meta-arguments: no plan value shows them, so they are checked here.
	{"internet-facing ALB waits for the internet gateway", func(s *tfStack) error {
		lb, err := s.block("resource", "aws_lb", "this")
		if err != nil {
			return err
		}
		dep, err := tfAttr(lb, "depends_on")
		if err != nil || !regexp.MustCompile(`\baws_internet_gateway\.this\b`).MatchString(tfSource(dep)) {
			return errors.New(`aws_lb.this must depend on aws_internet_gateway.this: AWS refuses an internet-facing ALB in a VPC without an attached gateway ("InvalidSubnet ... has no internet gateway") and no argument orders them`)
		}
		return nil
	}},
	{"target group is replaced before it is destroyed", func(s *tfStack) error {
		tg, err := s.targetGroup()
		if err != nil {
			return err
		}
		if _, ok := tg.Body.Attributes["name"]; ok {
			return errors.New("aws_lb_target_group.app has a fixed name: its replacement could not exist beside it (use name_prefix)")
		}
		cbd, err := s.tfEvalAt(tfEnv{}, tg, "lifecycle", "create_before_destroy")
		if err != nil || !cbd.True() {
			return fmt.Errorf("aws_lb_target_group.app needs lifecycle.create_before_destroy = true: the listener still forwards to the old group, so deleting it first fails with ResourceInUse (%v)", err)
		}
		return nil
	}},
	{"every variable validation has a terraform test run", func(s *tfStack) error {
		path := filepath.Join(s.dir(), "tests", "validations.tftest.hcl")
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
		if diags.HasErrors() {
			return errors.New(diags.Error())
		}
		expected := map[string]bool{}
		for _, run := range f.Body.(*hclsyntax.Body).Blocks {
			if a, ok := run.Body.Attributes["expect_failures"]; ok {
				for _, m := range regexp.MustCompile(`\bvar\.([a-z0-9_]+)`).FindAllStringSubmatch(tfSource(a.Expr), -1) {
					expected[m[1]] = true
				}
			}
		}
		for _, b := range s.blocks {
			if b.Type != "variable" {
				continue
			}
			for _, v := range b.Body.Blocks {
				if v.Type == "validation" && !expected[b.Labels[0]] {
					return fmt.Errorf("variable %q has a validation but no run in terraform/tests/validations.tftest.hcl expects it to fail", b.Labels[0])
				}
			}
		}
		return nil
	}},
	{"examples set only declared variables", func(s *tfStack) error {
		paths, _ := filepath.Glob(filepath.Join(s.dir(), "examples", "*.tfvars"))
		if len(paths) == 0 {
			return errors.New("no terraform/examples/*.tfvars")
		}
		for _, p := range paths {
			src, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			f, diags := hclsyntax.ParseConfig(src, p, hcl.InitialPos)
			if diags.HasErrors() {
				return errors.New(diags.Error())
			}
			var names []string
			for n := range f.Body.(*hclsyntax.Body).Attributes {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				if _, err := s.block("variable", n); err != nil {
					return fmt.Errorf("%s sets %q: %w", filepath.Base(p), n, err)
				}
			}
		}
		return nil
	}},
}

func tfRepoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestTerraformContract(t *testing.T) {
	s, err := loadTFStack(tfRepoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range tfChecks {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(s); err != nil {
				t.Error(err)
			}
		})
	}
}

// tfMutations break one thing each in a copy of the files; the named check must then fail.
var tfMutations = []struct {
	check, file, old, new string
}{
	{"contract local is contract.json", "contract/contract.json", `"port": 8080`, `"port": 8081`},
	{"target group port is the contract port", "terraform/alb.tf", "port        = local.contract.port", "port        = 8080"},
	{"health check path is the contract path", "terraform/alb.tf", "path                = local.contract.health_path", `path                = "/health"`},
	{"health check path is the contract path", "terraform/alb.tf", `matcher             = "200"`, `matcher             = "200-499"`},
	{"deregistration delay is the drain delay", "terraform/alb.tf", "deregistration_delay = local.contract.drain_delay_seconds", "deregistration_delay = 15"},
	{"health check timing is the contract's", "terraform/alb.tf", "interval            = local.contract.health_check.interval_seconds", "interval            = 5"},
	{"health check timing is the contract's", "terraform/alb.tf", "unhealthy_threshold = local.contract.health_check.unhealthy_threshold", "unhealthy_threshold = 2"},
	{"health check timing fits the service", "contract/contract.json", `"unhealthy_threshold": 2`, `"unhealthy_threshold": 5`},
	{"health check timing fits the service", "contract/contract.json", `"timeout_seconds": 2`, `"timeout_seconds": 5`},
	{"health check timing fits the service", "contract/contract.json", `"health_budget_ms": 10`, `"health_budget_ms": 50`},
	{"unit stop timeout covers drain and shutdown", "packer/scaleapp.service", "TimeoutStopSec=35", "TimeoutStopSec=20"},
	{"ami user data writes the env file before the contract unit starts", "terraform/templates/user_data_ami.sh.tftpl", "systemctl try-restart --no-block ${unit}\n", "systemctl try-restart --no-block scaleapp.service\n"},
	{"ami user data writes the env file before the contract unit starts", "terraform/templates/user_data_ami.sh.tftpl", "systemctl try-restart --no-block ${unit}\n", "systemctl restart ${unit}\n"},
	{"ami user data writes the env file before the contract unit starts", "terraform/templates/user_data_ami.sh.tftpl", "#cloud-boothook\n", ""},
	{"ami user data writes the env file before the contract unit starts", "packer/scaleapp.service", "After=cloud-init.service\n", "After=basic.target\n"},
	{"ami user data writes the env file before the contract unit starts", "terraform/templates/user_data_ami.sh.tftpl", "set -euo pipefail\n", "set -euo pipefail\ncurl -fsS https://example.com/scaleapp -o /usr/local/bin/scaleapp\n"},
	{"ami user data writes the env file before the contract unit starts", "terraform/modules/user-data/main.tf", `"DRAIN_DELAY=${var.drain_seconds}s",`, `"DRAIN_DELAY=${var.drain_seconds}",`},
	{"container user data pulls with the role and runs like the unit", "terraform/templates/user_data_container.sh.tftpl", "  --restart=always \\\n", "  --restart=no \\\n"},
	{"container user data pulls with the role and runs like the unit", "terraform/modules/user-data/main.tf", "stop_timeout = var.drain_seconds + var.shutdown_seconds + 5", "stop_timeout = 10"},
	{"AMI lookup filters on the tag Packer writes", "terraform/compute.tf", "values = [local.contract.ami_tag_value]", `values = ["scaleapp"]`},
	{"variables for the tfvars file Packer writes", "terraform/variables.tf", `variable "ami_commit" {`, `variable "ami_git_commit" {`},
	{"variables for the tfvars file Packer writes", "terraform/variables.tf", `variable "ami_architecture" {`, `variable "ami_arch" {`},
	{"variables for the tfvars file Packer writes", "terraform/variables.tf", "type        = map(string)\n  description = \"AMI per region", "type        = list(string)\n  description = \"AMI per region"},
	{"ASG refreshes, keeps its capacity and heals on ELB health", "terraform/compute.tf", "version = aws_launch_template.app.latest_version", `version = "$Latest"`},
	{"ASG refreshes, keeps its capacity and heals on ELB health", "terraform/compute.tf", "ignore_changes = [desired_capacity]", "ignore_changes = []"},
	{"ASG refreshes, keeps its capacity and heals on ELB health", "terraform/main.tf", "    ami       = 60\n", "    ami       = 300\n"},
	{"instances admit only the app port from the ALB", "terraform/compute.tf", "referenced_security_group_id = aws_security_group.alb.id", `cidr_ipv4                    = "0.0.0.0/0"`},
	{"ECR and IAM only on the path that needs them", "terraform/iam.tf", "resource \"aws_iam_role_policy\" \"ecr_pull\" {\n  count = local.is_container ? 1 : 0", "resource \"aws_iam_role_policy\" \"ecr_pull\" {\n  count = 1"},
	{"docs and scripts name the contract unit", "terraform/README.md", "`systemctl status scaleapp`", "`systemctl status scaleapp-app.service`"},
	{"outputs and ready-to-paste commands", "terraform/outputs.tf", `output "target_group_arn" {`, `output "tg_arn" {`},
	{"outputs and ready-to-paste commands", "terraform/outputs.tf", "${local.alb_url}${local.contract.health_path}", "${local.alb_url}/health"},
	{"examples set only declared variables", "terraform/examples/container.tfvars", "delivery = ", "delivery_mode = "},
	{"internet-facing ALB waits for the internet gateway", "terraform/alb.tf", "  depends_on = [aws_internet_gateway.this, aws_route.internet, aws_route_table_association.public]\n", ""},
	{"target group is replaced before it is destroyed", "terraform/alb.tf", "    create_before_destroy = true\n  }\n}\n\n# Accepted: plain HTTP", "    create_before_destroy = false\n  }\n}\n\n# Accepted: plain HTTP"},
	{"target group is replaced before it is destroyed", "terraform/alb.tf", `name_prefix = "${substr(var.name, 0, 5)}-"`, `name        = var.name`},
	{"every variable validation has a terraform test run", "terraform/tests/validations.tftest.hcl", "var.region, var.name,", "var.name,"},
	{"vpc_cidr accepts exactly the prefixes whose subnets an ALB accepts", "terraform/variables.tf", `tonumber(split("/", var.vpc_cidr)[1]) <= 19`, `tonumber(split("/", var.vpc_cidr)[1]) <= 20`},
	{"vpc_cidr accepts exactly the prefixes whose subnets an ALB accepts", "terraform/network.tf", "cidrsubnet(var.vpc_cidr, 8, count.index)", "cidrsubnet(var.vpc_cidr, 12, count.index)"},
	{"container host AMI is a standard AL2023 image (aws CLI for the ECR login)", "terraform/variables.tf", `"^/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-[a-z0-9.]+-(x86_64|arm64)$"`, `"^/aws/service/ami-amazon-linux-latest/al2023-"`},
	{"HTTPS URL uses the name the certificate covers", "terraform/variables.tf", `condition     = var.certificate_arn == "" || var.public_hostname != ""`, `condition     = true`},
	{"HTTPS URL uses the name the certificate covers", "terraform/outputs.tf", `var.public_hostname != "" ? var.public_hostname : aws_lb.this.dns_name`, `aws_lb.this.dns_name`},
}

func TestTerraformContractCatchesDrift(t *testing.T) {
	root := tfRepoRoot(t)
	byName := map[string]tfCheck{}
	for _, c := range tfChecks {
		byName[c.name] = c
	}
	covered := map[string]bool{}
	for _, m := range tfMutations {
		covered[m.check] = true
		t.Run(m.check+": "+m.file, func(t *testing.T) {
			c, ok := byName[m.check]
			if !ok {
				t.Fatalf("no check named %q", m.check)
			}
			tmp := t.TempDir()
			for _, dir := range []string{"terraform", "contract", "packer"} {
				if err := tfCopyTree(filepath.Join(root, dir), filepath.Join(tmp, dir)); err != nil {
					t.Fatal(err)
				}
			}
			if err := tfCopyFile(filepath.Join(root, ".gitignore"), filepath.Join(tmp, ".gitignore")); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(tmp, m.file)
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Count(string(src), m.old) != 1 {
				t.Fatalf("mutation is stale: %q occurs %d times in %s", m.old, strings.Count(string(src), m.old), m.file)
			}
			if err := os.WriteFile(path, []byte(strings.Replace(string(src), m.old, m.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := loadTFStack(tmp)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.run(s); err == nil {
				t.Errorf("check %q still passes after %s: %q -> %q", m.check, m.file, m.old, m.new)
			} else {
				t.Logf("fails as it should: %v", firstLine(err.Error()))
			}
		})
	}
	for _, c := range tfChecks {
		if !covered[c.name] {
			t.Errorf("check %q has no mutation in tfMutations: nothing shows it can fail", c.name)
		}
	}
}

func tfVarsString(vars map[string]cty.Value) string {
	var parts []string
	for k, v := range vars {
		parts = append(parts, k+"="+tfString(v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// firstLine is the first line of a multi-line text, for short error messages.
func firstLine(s string) string { return strings.SplitN(s, "\n", 2)[0] }

// tfCopyTree copies regular files, skipping .terraform and state (large, irrelevant, maybe secret).
func tfCopyTree(src, dst string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			if info.Name() == ".terraform" || info.Name() == "plugin" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !info.Mode().IsRegular() || strings.Contains(info.Name(), ".tfstate") {
			return nil
		}
		return tfCopyFile(p, filepath.Join(dst, rel))
	})
}

func tfCopyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
