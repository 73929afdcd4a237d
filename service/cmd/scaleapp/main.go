// Command scaleapp serves the autoscaling demo: /health for the load balancer, /cpu to spike every core,
// and the identity of the instance that answered. `scaleapp healthcheck` probes a running one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/scaleapp/scaleapp/contract"
	"github.com/scaleapp/scaleapp/service/app"
	"github.com/scaleapp/scaleapp/service/config"
	"github.com/scaleapp/scaleapp/service/health"
	"github.com/scaleapp/scaleapp/service/logging"
)

// Exit codes: 0 clean stop, 1 runtime failure, 2 bad configuration.
const (
	exitFailure = 1
	exitConfig  = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	healthcheck := len(args) > 0 && args[0] == "healthcheck"
	if healthcheck {
		args = args[1:]
	}
	cfg, err := config.Load(args, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		config.Usage(stdout)
		if healthcheck {
			return exitFailure // nothing was probed: a HEALTHCHECK must not read this as healthy
		}
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "scaleapp: "+err.Error())
		if healthcheck {
			return exitFailure // a HEALTHCHECK command may only answer 0 or 1 (Docker reserves 2)
		}
		return exitConfig
	}
	if healthcheck {
		return probe(cfg, stdout, stderr)
	}
	log, out := logging.New(cfg.LogLevel, stdout)
	defer out.Close() // flushes the buffered lines, the last one included
	if err := app.Run(context.Background(), cfg, log, out); err != nil {
		log.Error().Err(err).Msg("exiting")
		return exitFailure
	}
	return 0
}

// probe is `scaleapp healthcheck`: exit 0 only when this host's /health answers UP.
func probe(cfg config.Config, stdout, stderr io.Writer) int {
	url := fmt.Sprintf("http://127.0.0.1:%d%s", cfg.Port, contract.C.HealthPath)
	st, err := health.Probe(context.Background(), url, 2*time.Second)
	if err != nil {
		fmt.Fprintln(stderr, "scaleapp healthcheck: "+err.Error())
		return exitFailure
	}
	fmt.Fprintln(stdout, st)
	if st != health.Up {
		return exitFailure
	}
	return 0
}
