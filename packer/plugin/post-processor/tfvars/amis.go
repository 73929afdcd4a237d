package tfvars

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// amiBuilders are the packer-plugin-amazon builders whose artifact ID is "region:ami-id,...".
// ebsvolume is absent on purpose: it makes volumes, not AMIs.
var amiBuilders = map[string]string{
	"mitchellh.amazonebs":           "amazon-ebs",
	"mitchellh.amazon.instance":     "amazon-instance",
	"mitchellh.amazon.ebssurrogate": "amazon-ebssurrogate",
	"mitchellh.amazon.chroot":       "amazon-chroot",
}

var (
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	amiRE    = regexp.MustCompile(`^ami-[0-9a-f]+$`)
)

// parseAMIs reads the region -> AMI map from an amazon artifact, refusing anything else.
func parseAMIs(a packersdk.Artifact) (map[string]string, error) {
	if _, ok := amiBuilders[a.BuilderId()]; !ok {
		return nil, fmt.Errorf("scaleapp-tfvars needs an AMI from an amazon builder (%s), got an artifact of builder %q (id %q)", knownBuilders(), a.BuilderId(), a.Id())
	}
	amis := map[string]string{}
	for _, part := range strings.Split(a.Id(), ",") {
		region, ami, ok := strings.Cut(part, ":")
		if !ok || !regionRE.MatchString(region) || !amiRE.MatchString(ami) {
			return nil, fmt.Errorf("artifact id %q: %q is not region:ami-id", a.Id(), part)
		}
		if prev, dup := amis[region]; dup && prev != ami {
			return nil, fmt.Errorf("artifact id %q names two AMIs for %s", a.Id(), region)
		}
		amis[region] = ami
	}
	return amis, nil
}

// pickRegion chooses the region whose AMI becomes the main variable, and says why. Without a
// configured region or the builder's BuildRegion it refuses: the artifact's first region is only the
// alphabetically first, and with ami_skip_build_region or a copy the build region may not even be in it.
func pickRegion(configured string, amis map[string]string, a packersdk.Artifact) (string, string, error) {
	if configured != "" {
		if _, ok := amis[configured]; !ok {
			return "", "", fmt.Errorf("region %q has no AMI in artifact %q (regions: %s)", configured, a.Id(), strings.Join(sortedKeys(amis), ", "))
		}
		return configured, "configured region", nil
	}
	// amazon builders put their generated data (BuildRegion among it) in the artifact state.
	if br, ok := buildRegion(a.State("generated_data")); ok {
		if _, ok := amis[br]; ok {
			return br, "build region", nil
		}
		return "", "", fmt.Errorf("build region %s has no AMI in artifact %q (ami_skip_build_region?): set region to the one Terraform deploys to (regions: %s)", br, a.Id(), strings.Join(sortedKeys(amis), ", "))
	}
	return "", "", fmt.Errorf("the build region is unknown (no region configured, no BuildRegion in artifact %q): set region to the one Terraform deploys to (regions: %s)", a.Id(), strings.Join(sortedKeys(amis), ", "))
}

// buildRegion reads BuildRegion from the artifact's generated data. In-process it is a
// map[string]interface{}; across Packer's plugin RPC (msgpack without a map type) it arrives as
// map[interface{}]interface{}, which is what a real build hands this post-processor.
func buildRegion(gd interface{}) (string, bool) {
	var v interface{}
	switch m := gd.(type) {
	case map[string]interface{}:
		v = m["BuildRegion"]
	case map[interface{}]interface{}:
		v = m["BuildRegion"]
	}
	br, ok := v.(string)
	return br, ok && br != ""
}

func knownBuilders() string {
	names := make([]string, 0, len(amiBuilders))
	for _, n := range amiBuilders {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
