package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// guard protects the endpoints that can hurt an instance (/cpu, /health/fail): refused to other sites'
// pages (403, crosssite.go), off with STRESS_ENABLED=false (403), and behind a shared bearer token when
// STRESS_TOKEN is set (401).
func (a *api) guard(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := crossSite(r); err != nil {
			writeError(w, http.StatusForbidden, err.Error()+": this endpoint only takes requests from its own pages or from non-browser clients")
			return
		}
		if !a.Config.StressEnabled {
			writeError(w, http.StatusForbidden, stressDisabled)
			return
		}
		if a.Config.StressToken != "" && !tokenMatches(r.Header.Get("Authorization"), a.Config.StressToken) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="scaleapp"`)
			writeError(w, http.StatusUnauthorized, "this endpoint needs 'Authorization: Bearer <STRESS_TOKEN>'")
			return
		}
		next(w, r)
	}
}

// tokenMatches compares in constant time; hashing first makes the time independent of the length too.
// The scheme is case-insensitive (RFC 9110 section 11.1): "bearer" and "BEARER" are "Bearer".
func tokenMatches(header, token string) bool {
	scheme, got, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got = strings.TrimLeft(got, " ")
	g, t := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(g[:], t[:]) == 1
}
