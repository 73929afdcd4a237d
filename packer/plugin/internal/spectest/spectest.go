// Package spectest is test support for the plugin's HCL2 specs: it decodes a block as Packer does, and
// checks that a checked-in, packer-sdc generated spec is current (every mapstructure argument of the
// Config struct has a spec entry and no entry is left over; a field added without `go generate ./...`
// would otherwise be silently refused by HCL2 templates).
package spectest

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Arguments lists the HCL2 argument names of a mapstructure config struct, following ",squash"
// embeds as packer-sdc does and skipping unexported fields.
func Arguments(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("mapstructure")
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "squash") {
			names = append(names, Arguments(f.Type)...)
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Current fails t when spec and the arguments of config (a struct value) differ.
func Current(t *testing.T, config any, spec map[string]hcldec.Spec) {
	t.Helper()
	want := Arguments(reflect.TypeOf(config))
	got := make([]string, 0, len(spec))
	for k := range spec {
		got = append(got, k)
	}
	sort.Strings(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the generated HCL2 spec is stale: run `go generate ./...` in packer/plugin\nspec:   %q\nconfig: %q", got, want)
	}
}

// Decode parses src as an HCL2 body and decodes it against spec, as Packer does with a component's
// block: the diagnostics are what a template author would see.
func Decode(t testing.TB, src string, spec hcldec.Spec) (cty.Value, hcl.Diagnostics) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "test.pkr.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse: %s", diags)
	}
	return hcldec.Decode(f.Body, spec, nil)
}
