// Command packer-plugin-scaleapp is the scaleapp Packer plugin. Installed as
// github.com/scaleapp/scaleapp, its components appear in templates as scaleapp-healthgate (a
// provisioner that fails the bake unless the service really runs) and scaleapp-tfvars (a
// post-processor that hands the new AMI to Terraform).
package main

import (
	"fmt"
	"os"

	"github.com/hashicorp/packer-plugin-sdk/plugin"

	"github.com/scaleapp/scaleapp/packer/plugin/post-processor/tfvars"
	"github.com/scaleapp/scaleapp/packer/plugin/provisioner/healthgate"
	"github.com/scaleapp/scaleapp/packer/plugin/version"
)

func main() {
	pps := plugin.NewSet()
	pps.RegisterProvisioner("healthgate", new(healthgate.Provisioner))
	pps.RegisterPostProcessor("tfvars", new(tfvars.PostProcessor))
	pps.SetVersion(version.PluginVersion)
	if err := pps.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
		os.Exit(1)
	}
}
