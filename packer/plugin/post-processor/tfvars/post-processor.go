//go:generate go tool packer-sdc mapstructure-to-hcl2 -type Config

// Package tfvars is a Packer post-processor that hands a freshly built AMI to Terraform: it turns
// the amazon-ebs artifact ("region:ami-id,...") into a *.auto.tfvars.json file, so
// `terraform apply` right after `packer build` launches the new image with no jq glue.
package tfvars

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/packer-plugin-sdk/common"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"
)

// Defaults match contract/contract.json (tfvars_file, ami_variable); contract/plugin_test.go fails
// when they drift apart. A relative output is relative to the directory packer runs in.
const (
	DefaultOutput   = "../terraform/ami.auto.tfvars.json"
	DefaultVariable = "ami_id"
)

// The other keys of the file. Terraform warns about values for undeclared variables, so these names
// are part of the interface with terraform/variables.tf.
const (
	keyAMIs         = "ami_ids"
	keyVersion      = "ami_version"
	keyCommit       = "ami_commit"
	keyArchitecture = "ami_architecture"
)

// architectures are AWS's names, as the AMI's Architecture attribute and Terraform's ami_architecture
// variable spell them.
var architectures = []string{"x86_64", "arm64"}

// Config is the post-processor's arguments; the mapstructure tags are the HCL2 argument names.
type Config struct {
	common.PackerConfig `mapstructure:",squash"`

	// Output is the file written (directories are created).
	Output string `mapstructure:"output"`
	// Variable is the Terraform variable that receives the build region's AMI ID.
	Variable string `mapstructure:"variable"`
	// Region picks the AMI for Variable. Default: the builder's BuildRegion from the artifact; when
	// neither is known the post-processor fails rather than guess.
	Region string `mapstructure:"region"`
	// Architecture is the AMI's architecture (x86_64 or arm64), written as ami_architecture so
	// Terraform picks matching instance types. Required: the artifact does not carry it.
	Architecture string `mapstructure:"architecture"`
	// Version and Commit are copied to ami_version and ami_commit.
	Version string `mapstructure:"version"`
	Commit  string `mapstructure:"commit"`

	ctx interpolate.Context
}

// PostProcessor implements packersdk.PostProcessor.
type PostProcessor struct {
	config Config
}

var _ packersdk.PostProcessor = new(PostProcessor)

// identifier is Terraform's variable name syntax.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

func (p *PostProcessor) ConfigSpec() hcldec.ObjectSpec { return p.config.FlatMapstructure().HCL2Spec() }

func (p *PostProcessor) Configure(raws ...interface{}) error {
	err := config.Decode(&p.config, &config.DecodeOpts{
		PluginType:         BuilderID,
		Interpolate:        true,
		InterpolateContext: &p.config.ctx,
	}, raws...)
	if err != nil {
		return err
	}
	c := &p.config
	if c.Output == "" {
		c.Output = DefaultOutput
	}
	if c.Variable == "" {
		c.Variable = DefaultVariable
	}

	var errs *packersdk.MultiError
	if !identifier.MatchString(c.Variable) {
		errs = packersdk.MultiErrorAppend(errs, fmt.Errorf("variable %q is not a Terraform variable name", c.Variable))
	}
	switch c.Variable {
	case keyAMIs, keyVersion, keyCommit, keyArchitecture:
		errs = packersdk.MultiErrorAppend(errs, fmt.Errorf("variable %q collides with a key the file always holds (%s, %s, %s, %s)", c.Variable, keyAMIs, keyVersion, keyCommit, keyArchitecture))
	}
	if !slices.Contains(architectures, c.Architecture) {
		errs = packersdk.MultiErrorAppend(errs, fmt.Errorf("architecture %q: want one of %s (the AMI's architecture, e.g. the template's var.arch)", c.Architecture, strings.Join(architectures, ", ")))
	}
	if c.Region != "" && !regionRE.MatchString(c.Region) {
		errs = packersdk.MultiErrorAppend(errs, fmt.Errorf("region %q is not an AWS region name such as us-east-1", c.Region))
	}
	if errs != nil && len(errs.Errors) > 0 {
		return errs
	}
	return nil
}

// PostProcess keeps the AMI (keep=true, not forced: keep_input_artifact still applies) and returns
// an artifact for the file.
func (p *PostProcessor) PostProcess(_ context.Context, ui packersdk.Ui, in packersdk.Artifact) (packersdk.Artifact, bool, bool, error) {
	c := p.config
	amis, err := parseAMIs(in)
	if err != nil {
		return nil, true, false, err
	}
	region, why, err := pickRegion(c.Region, amis, in)
	if err != nil {
		return nil, true, false, err
	}
	vars := map[string]any{
		c.Variable:      amis[region],
		keyAMIs:         amis,
		keyVersion:      c.Version,
		keyCommit:       c.Commit,
		keyArchitecture: c.Architecture,
	}
	if c.Version == "" || c.Commit == "" {
		ui.Say(fmt.Sprintf("tfvars: version %q / commit %q: set both so the stack can tag what it runs", c.Version, c.Commit))
	}
	if err := writeJSON(c.Output, vars); err != nil {
		return nil, true, false, err
	}
	ui.Say(fmt.Sprintf("tfvars: wrote %s: %s = %s (%s, %s), %s, %d region(s)", c.Output, c.Variable, amis[region], region, why, c.Architecture, len(amis)))
	return &Artifact{Path: c.Output, Variable: c.Variable, AMI: amis[region], Region: region}, true, false, nil
}
