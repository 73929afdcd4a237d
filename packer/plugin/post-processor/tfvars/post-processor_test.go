package tfvars

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	sdkrpc "github.com/hashicorp/packer-plugin-sdk/rpc"

	"github.com/scaleapp/scaleapp/packer/plugin/internal/spectest"
)

// twoRegions is what amazon-ebs reports for a build in us-east-1 copied to eu-west-1 (ami_regions).
const twoRegions = "eu-west-1:ami-0a1b2c3d4e5f60789,us-east-1:ami-0123456789abcdef0"

func configured(t *testing.T, raw map[string]interface{}) *PostProcessor {
	t.Helper()
	p := new(PostProcessor)
	if err := p.Configure(raw); err != nil {
		t.Fatalf("Configure(%v): %v", raw, err)
	}
	return p
}

func readJSON(t *testing.T, path string) map[string]interface{} {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]interface{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s is not JSON: %v\n%s", path, err, b)
	}
	return m
}

func TestPostProcessWritesTerraformVariables(t *testing.T) {
	amis := map[string]interface{}{"eu-west-1": "ami-0a1b2c3d4e5f60789", "us-east-1": "ami-0123456789abcdef0"}
	cases := []struct {
		name   string
		config map[string]interface{}
		state  map[string]interface{}
		want   map[string]interface{}
		say    string
	}{
		{
			// The shape a real build delivers: packer's plugin RPC (msgpack) decodes maps this way.
			name:   "build region from generated data as it arrives over RPC",
			config: map[string]interface{}{"version": "1.4.2", "commit": "0f3c9e1"},
			state:  map[string]interface{}{"generated_data": map[interface{}]interface{}{"BuildRegion": "us-east-1", "SourceAMI": "ami-0fff"}},
			want:   map[string]interface{}{"ami_id": "ami-0123456789abcdef0", "ami_ids": amis, "ami_version": "1.4.2", "ami_commit": "0f3c9e1", "ami_architecture": "x86_64"},
			say:    "ami_id = ami-0123456789abcdef0 (us-east-1, build region), x86_64, 2 region(s)",
		},
		{
			name:   "build region from generated data in-process",
			config: map[string]interface{}{"version": "1.4.2", "commit": "0f3c9e1"},
			state:  map[string]interface{}{"generated_data": map[string]interface{}{"BuildRegion": "us-east-1", "SourceAMI": "ami-0fff"}},
			want:   map[string]interface{}{"ami_id": "ami-0123456789abcdef0", "ami_ids": amis, "ami_version": "1.4.2", "ami_commit": "0f3c9e1", "ami_architecture": "x86_64"},
			say:    "(us-east-1, build region)",
		},
		{
			name:   "configured region wins",
			config: map[string]interface{}{"region": "eu-west-1", "version": "1.4.2", "commit": "0f3c9e1"},
			state:  map[string]interface{}{"generated_data": map[string]interface{}{"BuildRegion": "us-east-1"}},
			want:   map[string]interface{}{"ami_id": "ami-0a1b2c3d4e5f60789", "ami_ids": amis, "ami_version": "1.4.2", "ami_commit": "0f3c9e1", "ami_architecture": "x86_64"},
			say:    "(eu-west-1, configured region)",
		},
		{
			name:   "arm64",
			config: map[string]interface{}{"architecture": "arm64", "version": "1.4.2", "commit": "0f3c9e1"},
			state:  map[string]interface{}{"generated_data": map[interface{}]interface{}{"BuildRegion": "eu-west-1"}},
			want:   map[string]interface{}{"ami_id": "ami-0a1b2c3d4e5f60789", "ami_ids": amis, "ami_version": "1.4.2", "ami_commit": "0f3c9e1", "ami_architecture": "arm64"},
			say:    "(eu-west-1, build region), arm64, 2 region(s)",
		},
		{
			name:   "variable renamed",
			config: map[string]interface{}{"variable": "image_id", "region": "us-east-1"},
			want:   map[string]interface{}{"image_id": "ami-0123456789abcdef0", "ami_ids": amis, "ami_version": "", "ami_commit": "", "ami_architecture": "x86_64"},
			say:    "set both so the stack can tag what it runs",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "terraform", "nested", "ami.auto.tfvars.json")
			tc.config["output"] = out
			if tc.config["architecture"] == nil {
				tc.config["architecture"] = "x86_64"
			}
			p := configured(t, tc.config)
			in := &packersdk.MockArtifact{BuilderIdValue: "mitchellh.amazonebs", IdValue: twoRegions, StateValues: tc.state}
			ui := &packersdk.MockUi{}
			a, keep, force, err := p.PostProcess(context.Background(), ui, in)
			if err != nil {
				t.Fatal(err)
			}
			if !keep || force {
				t.Errorf("keep=%v force=%v, want the AMI kept and keep_input_artifact honoured", keep, force)
			}
			if got := readJSON(t, out); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s =\n%v\nwant\n%v", out, got, tc.want)
			}
			if a.BuilderId() != BuilderID || !reflect.DeepEqual(a.Files(), []string{out}) || a.Id() != out || !strings.Contains(a.String(), out) {
				t.Errorf("artifact %q %v %q %q does not describe %s", a.BuilderId(), a.Files(), a.Id(), a.String(), out)
			}
			var said []string
			for _, m := range ui.SayMessages {
				said = append(said, m.Message)
			}
			if !strings.Contains(strings.Join(said, "\n"), tc.say) {
				t.Errorf("UI %q lacks %q", said, tc.say)
			}
			if in.DestroyCalled {
				t.Error("the input AMI artifact was destroyed")
			}
			leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*tmp*"))
			if len(leftovers) > 0 {
				t.Errorf("temporary files left behind: %v", leftovers)
			}
		})
	}
}

// A real build hands the post-processor an RPC client of the builder's artifact; this runs the
// SDK's own artifact server and client over a pipe so State comes back as msgpack decodes it.
func TestPostProcessReadsBuildRegionThroughPluginRPC(t *testing.T) {
	serverConn, clientConn := net.Pipe()
	server, err := sdkrpc.NewServer(serverConn)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	mock := &packersdk.MockArtifact{
		BuilderIdValue: "mitchellh.amazonebs",
		IdValue:        twoRegions,
		StateValues:    map[string]interface{}{"generated_data": map[string]interface{}{"BuildRegion": "us-east-1"}},
	}
	if err := server.RegisterArtifact(mock); err != nil {
		t.Fatal(err)
	}
	go server.Serve()
	client, err := sdkrpc.NewClient(clientConn)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	in := client.Artifact()
	if gd := in.State("generated_data"); reflect.TypeOf(gd) != reflect.TypeOf(map[interface{}]interface{}{}) {
		t.Errorf("generated_data crossed RPC as %T, not map[interface{}]interface{}: update buildRegion's comment", gd)
	}

	out := filepath.Join(t.TempDir(), "ami.auto.tfvars.json")
	p := configured(t, map[string]interface{}{"output": out, "architecture": "x86_64"})
	ui := &packersdk.MockUi{}
	if _, _, _, err := p.PostProcess(context.Background(), ui, in); err != nil {
		t.Fatal(err)
	}
	if got := readJSON(t, out)["ami_id"]; got != "ami-0123456789abcdef0" {
		t.Fatalf("ami_id = %v, want us-east-1's ami-0123456789abcdef0 (the build region)", got)
	}
}

func TestPostProcessReplacesTheFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "ami.auto.tfvars.json")
	if err := os.WriteFile(out, []byte(`{"ami_id": "ami-0old"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	p := configured(t, map[string]interface{}{"output": out, "version": "2", "commit": "c", "architecture": "x86_64", "region": "us-east-1"})
	in := &packersdk.MockArtifact{BuilderIdValue: "mitchellh.amazonebs", IdValue: "us-east-1:ami-0abc"}
	if _, _, _, err := p.PostProcess(context.Background(), &packersdk.MockUi{}, in); err != nil {
		t.Fatal(err)
	}
	if got := readJSON(t, out)["ami_id"]; got != "ami-0abc" {
		t.Fatalf("ami_id = %v after the second bake, want ami-0abc", got)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("stat %s: %v %v, want mode 0644", out, fi.Mode(), err)
	}
}

func TestPostProcessRejectsNonAMIArtifacts(t *testing.T) {
	cases := []struct {
		name, builder, id, region, want string
	}{
		{"null builder", "fnoeding.null", "Null", "", `scaleapp-tfvars needs an AMI from an amazon builder (amazon-chroot, amazon-ebs, amazon-ebssurrogate, amazon-instance), got an artifact of builder "fnoeding.null"`},
		{"ebs volumes are not AMIs", "mitchellh.amazon.ebsvolume", "us-east-1:vol-0abc", "", `got an artifact of builder "mitchellh.amazon.ebsvolume"`},
		{"id without region", "mitchellh.amazonebs", "ami-0abc", "", `artifact id "ami-0abc": "ami-0abc" is not region:ami-id`},
		{"id with a snapshot", "mitchellh.amazonebs", "us-east-1:snap-0abc", "", `"us-east-1:snap-0abc" is not region:ami-id`},
		{"empty id", "mitchellh.amazonebs", ",", "", `is not region:ami-id`},
		{"two AMIs for one region", "mitchellh.amazonebs", "us-east-1:ami-0a,us-east-1:ami-0b", "", "names two AMIs for us-east-1"},
		{"requested region missing", "mitchellh.amazonebs", twoRegions, "ap-south-1", `region "ap-south-1" has no AMI in artifact "` + twoRegions + `" (regions: eu-west-1, us-east-1)`},
		// Formerly the alphabetically first region won: eu-west-1's AMI for a stack in us-east-1.
		{"build region unknown", "mitchellh.amazonebs", twoRegions, "", `the build region is unknown (no region configured, no BuildRegion in artifact "` + twoRegions + `"): set region to the one Terraform deploys to (regions: eu-west-1, us-east-1)`},
		{"build region unknown, one region", "mitchellh.amazonebs", "eu-west-1:ami-0a1b2c3d4e5f60789", "", `the build region is unknown`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "ami.auto.tfvars.json")
			p := configured(t, map[string]interface{}{"output": out, "region": tc.region, "architecture": "x86_64"})
			in := &packersdk.MockArtifact{BuilderIdValue: tc.builder, IdValue: tc.id}
			a, keep, _, err := p.PostProcess(context.Background(), &packersdk.MockUi{}, in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("PostProcess = %v, want an error containing %q", err, tc.want)
			}
			if a != nil || !keep {
				t.Errorf("on error: artifact %v keep %v, want nil and the input kept", a, keep)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("%s written despite the error", out)
			}
		})
	}
}

func TestConfigureDefaultsAndRejects(t *testing.T) {
	p := configured(t, map[string]interface{}{"architecture": "x86_64"})
	if p.config.Output != "../terraform/ami.auto.tfvars.json" || p.config.Variable != "ami_id" {
		t.Fatalf("defaults: output %q variable %q", p.config.Output, p.config.Variable)
	}
	cases := []struct {
		name string
		raw  map[string]interface{}
		want string
	}{
		{"variable not an identifier", map[string]interface{}{"variable": "ami id", "architecture": "x86_64"}, `variable "ami id" is not a Terraform variable name`},
		{"variable collides", map[string]interface{}{"variable": "ami_ids", "architecture": "x86_64"}, `variable "ami_ids" collides with a key the file always holds`},
		{"variable collides with the architecture", map[string]interface{}{"variable": "ami_architecture", "architecture": "x86_64"}, `variable "ami_architecture" collides with a key the file always holds`},
		{"region malformed", map[string]interface{}{"region": "US East", "architecture": "x86_64"}, `region "US East" is not an AWS region name`},
		{"architecture missing", map[string]interface{}{}, `architecture "": want one of x86_64, arm64`},
		{"architecture in Go's spelling", map[string]interface{}{"architecture": "amd64"}, `architecture "amd64": want one of x86_64, arm64 (the AMI's architecture, e.g. the template's var.arch)`},
		{"unknown key", map[string]interface{}{"outptu": "x", "architecture": "x86_64"}, "outptu"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := new(PostProcessor).Configure(tc.raw)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Configure(%v) = %v, want an error containing %q", tc.raw, err, tc.want)
			}
		})
	}
}

func decodeHCL(t *testing.T, src string) (*PostProcessor, hcl.Diagnostics, error) {
	t.Helper()
	p := new(PostProcessor)
	val, diags := spectest.Decode(t, src, p.ConfigSpec())
	if diags.HasErrors() {
		return nil, diags, nil
	}
	return p, nil, p.Configure(val)
}

func TestHCL2Spec(t *testing.T) {
	p, diags, err := decodeHCL(t, `
output   = "out/ami.auto.tfvars.json"
variable = "ami_id"
region   = "us-east-1"
version  = "1.4.2"
commit   = "0f3c9e1"
architecture = "arm64"
`)
	if diags != nil || err != nil {
		t.Fatalf("known arguments: diags %s, Configure %v", diags, err)
	}
	if c := p.config; c.Output != "out/ami.auto.tfvars.json" || c.Region != "us-east-1" || c.Version != "1.4.2" || c.Commit != "0f3c9e1" || c.Architecture != "arm64" {
		t.Fatalf("decoded %+v", c)
	}

	for src, want := range map[string]string{
		`output = "x"` + "\n" + `format = "json"`: `An argument named "format" is not expected here.`,
		`architecture = ["arm64"]`:                `Inappropriate value for attribute "architecture": string required.`,
		`varible = "ami_id"`:                      `An argument named "varible" is not expected here. Did you mean "variable"?`,
		`region = ["us-east-1"]`:                  `Inappropriate value for attribute "region": string required.`,
	} {
		_, diags, err := decodeHCL(t, src)
		got := diags.Error()
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, want) {
			t.Errorf("decoding %q gave %q, want %q", src, got, want)
		}
	}
}

func TestHCL2SpecIsCurrent(t *testing.T) {
	spectest.Current(t, Config{}, new(PostProcessor).ConfigSpec())
	for _, own := range []string{"output", "variable", "region", "version", "commit", "architecture"} {
		if _, ok := new(PostProcessor).ConfigSpec()[own]; !ok {
			t.Errorf("spec lacks %q", own)
		}
	}
}
