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

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"github.com/scaleapp/scaleapp/contract"
	"github.com/scaleapp/scaleapp/service/app"
	"github.com/scaleapp/scaleapp/service/buildinfo"
	"github.com/scaleapp/scaleapp/service/config"
	"github.com/scaleapp/scaleapp/service/health"
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
	log := newLogger(cfg.LogLevel, stdout)
	if err := app.Run(context.Background(), cfg, log); err != nil {
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

// newLogger writes JSON lines (journald and CloudWatch keep them), or coloured text to a terminal.
func newLogger(level zerolog.Level, out io.Writer) zerolog.Logger {
	zerolog.TimeFieldFormat = time.RFC3339Nano
	if f, ok := out.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		out = zerolog.ConsoleWriter{Out: f, TimeFormat: "15:04:05.000"}
	}
	return zerolog.New(out).Level(level).With().Timestamp().
		Str("service", contract.C.Name).Str("version", buildinfo.Version).Logger()
}
