package tfvars

import (
	"fmt"
	"os"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// BuilderID identifies artifacts of this post-processor.
const BuilderID = "scaleapp.post-processor.tfvars"

// Artifact is the variables file written for Terraform.
type Artifact struct {
	Path     string
	Variable string
	AMI      string
	Region   string
}

var _ packersdk.Artifact = (*Artifact)(nil)

func (a *Artifact) BuilderId() string             { return BuilderID }
func (a *Artifact) Files() []string               { return []string{a.Path} }
func (a *Artifact) Id() string                    { return a.Path }
func (a *Artifact) State(name string) interface{} { return nil }
func (a *Artifact) String() string {
	return fmt.Sprintf("Terraform variables in %s: %s = %q (%s)", a.Path, a.Variable, a.AMI, a.Region)
}

// Destroy removes the file; Packer calls it only when a later post-processor discards this artifact.
func (a *Artifact) Destroy() error {
	if err := os.Remove(a.Path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}
