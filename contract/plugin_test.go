package contract

// Cross-folder check for the Packer plugin (packer/plugin, a Go module of its own so the service's
// dependency graph stays small). The plugin cannot import this package without pulling the root
// module into its graph, so its default values are copies; they are read from its source here and
// compared with contract.json.

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"path"
	"testing"
)

// pluginConsts returns the untyped string and integer constants declared in one Go file, evaluated.
func pluginConsts(t *testing.T, file string) map[string]constant.Value {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("parsing %s: %v", file, err)
	}
	consts := map[string]constant.Value{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
						consts[name.Name] = constant.MakeFromLiteral(lit.Value, lit.Kind, 0)
					}
				}
			}
		}
	}
	return consts
}

func TestPluginDefaultsMatchContract(t *testing.T) {
	gate := pluginConsts(t, "../packer/plugin/provisioner/healthgate/provisioner.go")
	tfvars := pluginConsts(t, "../packer/plugin/post-processor/tfvars/post-processor.go")
	cases := []struct {
		where, name string
		consts      map[string]constant.Value
		want        string
	}{
		{"healthgate", "DefaultUnit", gate, C.Unit},
		{"healthgate", "DefaultURL", gate, fmt.Sprintf("http://127.0.0.1:%d%s", C.Port, C.HealthPath)},
		{"healthgate", "DefaultExpectedBody", gate, C.HealthOKBody},
		{"tfvars", "DefaultVariable", tfvars, C.AMIVariable},
		// The template runs from packer/, beside terraform/.
		{"tfvars", "DefaultOutput", tfvars, path.Join("../terraform", C.TFVarsFile)},
	}
	for _, tc := range cases {
		v, ok := tc.consts[tc.name]
		if !ok || v.Kind() != constant.String {
			t.Errorf("%s: no string constant %s (renamed? update this test)", tc.where, tc.name)
			continue
		}
		if got := constant.StringVal(v); got != tc.want {
			t.Errorf("%s: %s = %q, contract.json says %q", tc.where, tc.name, got, tc.want)
		}
	}
}
