package httpapi

import (
	"errors"
	"net/http"
)

// crossOrigin is the standard library's check of a browser's unsafe-method request (Sec-Fetch-Site,
// else Origin against Host); curl and other clients send neither header and pass.
var crossOrigin = http.NewCrossOriginProtection()

// crossSite refuses a request that another site's page makes a browser send, so a third-party page
// cannot drive the endpoints that hurt an instance, with or without the stress token. The check lets
// GET through as safe, but GET /cpu starts a job (the tutorial's form), so a browser's cross-site GET
// is refused here too; typing the URL into the address bar (Sec-Fetch-Site: none) still works.
func crossSite(r *http.Request) error {
	if err := crossOrigin.Check(r); err != nil {
		return err
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return errors.New("cross-origin request detected from Sec-Fetch-Site header")
	}
	return nil
}
