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

// pickRegion chooses the region whose AMI becomes the main variable, and says why.
func pickRegion(configured string, amis map[string]string, a packersdk.Artifact) (string, string, error) {
	if configured != "" {
		if _, ok := amis[configured]; !ok {
			return "", "", fmt.Errorf("region %q has no AMI in artifact %q (regions: %s)", configured, a.Id(), strings.Join(sortedKeys(amis), ", "))
		}
		return configured, "configured region", nil
	}
	// amazon builders put their generated data (BuildRegion among it) in the artifact state.
	if gd, ok := a.State("generated_data").(map[string]interface{}); ok {
		if br, ok := gd["BuildRegion"].(string); ok {
			if _, ok := amis[br]; ok {
				return br, "build region", nil
			}
		}
	}
	return strings.SplitN(a.Id(), ":", 2)[0], "first region of the artifact", nil
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
