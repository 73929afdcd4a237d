// Package buildinfo carries the version and commit stamped into the binary with -ldflags -X.
package buildinfo

import "runtime"

// Set at link time: -X github.com/scaleapp/scaleapp/service/buildinfo.Version=...
var (
	Version = "dev"
	Commit  = "none"
)

// GoVersion is the toolchain that built the binary.
func GoVersion() string { return runtime.Version() }
