// Package version holds the plugin's version, reported to Packer by `describe` and used by
// `packer plugins install` to name the installed binary.
package version

import "github.com/hashicorp/packer-plugin-sdk/version"

// Version is the plugin's own semantic version; bump it when the plugin's behaviour changes.
// VersionMetadata is stamped at build time (install.sh passes the git commit through -ldflags -X)
// so `packer plugins installed` shows which source a machine runs; it is empty for a plain `go build`.
var (
	Version           = "0.1.0"
	VersionPrerelease = ""
	VersionMetadata   = ""

	PluginVersion = version.NewPluginVersion(Version, VersionPrerelease, VersionMetadata)
)
