package httpapi

import (
	"net/http"

	"github.com/scaleapp/scaleapp/service/buildinfo"
	"github.com/scaleapp/scaleapp/service/dashboard"
	"github.com/scaleapp/scaleapp/service/identity"
)

type identityReport struct {
	identity.Identity
	Version string `json:"version"`
	Commit  string `json:"commit"`
}

// identity answers GET / with the instance that served the request, so that refreshing through the ALB
// shows the traffic spreading over the instances; a browser (Accept: text/html) gets the dashboard.
func (a *api) identity(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Vary", "Accept")
	if dashboard.WantsHTML(r) {
		dashboard.ServePage(w, a.Identity.Get().InstanceID)
		return
	}
	writeJSON(w, http.StatusOK, identityReport{a.Identity.Get(), buildinfo.Version, buildinfo.Commit})
}

// version answers GET /version.
func (a *api) version(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{
		"version": buildinfo.Version, "commit": buildinfo.Commit, "go": buildinfo.GoVersion(),
	})
}
