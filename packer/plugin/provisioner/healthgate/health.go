package healthgate

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// healthResponse is one GET as curl saw it on the instance.
type healthResponse struct {
	status  int
	body    string
	elapsed time.Duration
}

// curl exit codes that mean "not listening yet" rather than "wrong": 7 could not connect,
// 28 operation timed out. Anything else (bad URL, no curl, TLS error) will not fix itself.
func retryableCurl(exit int) bool { return exit == 7 || exit == 28 }

// curlCommand writes the body, then a newline, the status and curl's own timing, so one command
// gives all three without temporary files. No -f: a 503 must reach us with its body. --noproxy '*':
// an http_proxy in the build's environment must not turn a local GET into a proxy's answer.
func curlCommand(url string, maxTime time.Duration) string {
	return fmt.Sprintf(`curl -sS --noproxy '*' --max-time %.1f -w '\n%%{http_code} %%{time_total}' %s`, maxTime.Seconds(), quote(url))
}

func parseCurl(out string) (healthResponse, error) {
	// The trailer has no newline of its own; trimming after it never touches the body.
	out = strings.TrimRight(out, "\r\n")
	i := strings.LastIndexByte(out, '\n')
	if i < 0 {
		return healthResponse{}, fmt.Errorf("unexpected curl output %q", out)
	}
	fields := strings.Fields(out[i+1:])
	if len(fields) != 2 {
		return healthResponse{}, fmt.Errorf("unexpected curl trailer %q", out[i+1:])
	}
	status, err := strconv.Atoi(fields[0])
	if err != nil {
		return healthResponse{}, fmt.Errorf("unexpected curl status %q", fields[0])
	}
	// Some curl builds format time_total with the locale's decimal comma.
	secs, err := strconv.ParseFloat(strings.ReplaceAll(fields[1], ",", "."), 64)
	if err != nil {
		return healthResponse{}, fmt.Errorf("unexpected curl time_total %q", fields[1])
	}
	return healthResponse{status: status, body: out[:i], elapsed: time.Duration(secs * float64(time.Second))}, nil
}

// getHealth GETs url on the instance, retrying while nothing listens yet, until ctx ends. Any HTTP
// answer is returned for the caller to judge.
func getHealth(ctx context.Context, r *remote, url string, every time.Duration) (healthResponse, error) {
	for {
		maxTime := 10 * time.Second
		if dl, ok := ctx.Deadline(); ok {
			maxTime = min(maxTime, max(time.Until(dl), 100*time.Millisecond))
		}
		res, err := r.run(ctx, curlCommand(url, maxTime), false)
		if err != nil {
			return healthResponse{}, fmt.Errorf("GET %s: %w", url, err)
		}
		switch {
		case res.exit == 0:
			return parseCurl(res.stdout)
		case res.exit == 127:
			return healthResponse{}, fmt.Errorf("GET %s: curl is not installed on the instance", url)
		case !retryableCurl(res.exit):
			return healthResponse{}, fmt.Errorf("GET %s: curl exited %d: %s", url, res.exit, oneLine(res.stderr))
		}
		select {
		case <-ctx.Done():
			return healthResponse{}, fmt.Errorf("GET %s: no answer (last: curl exited %d: %s): %w", url, res.exit, oneLine(res.stderr), ctx.Err())
		case <-time.After(every):
		}
	}
}
