package health

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Probe GETs a /health URL within timeout and returns the status it answered. It is the watchdog's
// self-check and the `scaleapp healthcheck` subcommand: any known status proves the server answers;
// callers decide whether only UP will do.
func Probe(ctx context.Context, url string, timeout time.Duration) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64))
	if err != nil {
		return "", err
	}
	st := Status(strings.TrimSpace(string(body)))
	switch {
	case resp.StatusCode == http.StatusOK && st == Up,
		resp.StatusCode == http.StatusServiceUnavailable && (st == Draining || st == Unhealthy):
		return st, nil
	}
	return "", fmt.Errorf("GET %s: unexpected answer %d %q", url, resp.StatusCode, body)
}

// probeClient keeps no connection between probes: each one must prove the listener accepts.
var probeClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
