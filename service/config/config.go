// Package config reads scaleapp's settings from environment variables and matching command-line flags
// (a flag wins over its variable). A bad value is an error that names the setting, so the binary can stop
// at start with one clear line instead of running with a silent default.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/scaleapp/scaleapp/contract"
)

// Config is everything the service can be told at start.
type Config struct {
	Port             int
	CPUStressTime    time.Duration // default length of a /cpu job
	StressMax        time.Duration // longest /cpu job accepted
	StressEnabled    bool
	StressToken      string
	StressIsolation  bool // burners on their own low-priority OS threads; off only to compare in benchmarks
	DrainDelay       time.Duration
	ShutdownTimeout  time.Duration
	LogLevel         zerolog.Level
	IMDSEndpoint     string
	IMDSDisabled     bool
	IMDSProbeTimeout time.Duration
}

// setting is one variable and its flag; parse turns the text into the Config field.
type setting struct {
	env, flag, def, usage string
	parse                 func(c *Config, v string) error
}

var settings = []setting{
	{"PORT", "port", strconv.Itoa(contract.C.Port), "TCP port to serve on", func(c *Config, v string) (err error) {
		c.Port, err = intIn(v, 1, 65535)
		return
	}},
	{"CPU_STRESS_TIME", "cpu-stress-time", "60", "default seconds of a /cpu job", func(c *Config, v string) (err error) {
		c.CPUStressTime, err = seconds(v)
		return
	}},
	{"STRESS_MAX_SECONDS", "stress-max-seconds", "900", "longest /cpu job in seconds", func(c *Config, v string) (err error) {
		c.StressMax, err = seconds(v)
		return
	}},
	{"STRESS_ENABLED", "stress-enabled", "true", "serve /cpu and /health/fail (false: 403)", func(c *Config, v string) (err error) {
		c.StressEnabled, err = boolean(v)
		return
	}},
	{"STRESS_TOKEN", "stress-token", "", "when set, /cpu and /health/fail need 'Authorization: Bearer <token>'", func(c *Config, v string) error {
		if strings.ContainsAny(v, " \t\r\n") {
			return errors.New("must not contain white space")
		}
		c.StressToken = v
		return nil
	}},
	{"STRESS_ISOLATION", "stress-isolation", "true", "run CPU burners on their own idle-priority threads so /health stays fast", func(c *Config, v string) (err error) {
		c.StressIsolation, err = boolean(v)
		return
	}},
	{"DRAIN_DELAY", "drain-delay", "0s", "how long /health answers 503 DRAINING before the server shuts down", func(c *Config, v string) (err error) {
		c.DrainDelay, err = duration(v, 0)
		return
	}},
	{"SHUTDOWN_TIMEOUT", "shutdown-timeout", contract.C.ShutdownTimeout().String(), "longest wait for in-flight requests at shutdown", func(c *Config, v string) (err error) {
		c.ShutdownTimeout, err = duration(v, time.Millisecond)
		return
	}},
	{"LOG_LEVEL", "log-level", "info", "debug, info, warn or error", func(c *Config, v string) error {
		switch v {
		case "debug", "info", "warn", "error":
			c.LogLevel, _ = zerolog.ParseLevel(v)
			return nil
		}
		return errors.New("must be debug, info, warn or error")
	}},
	{"IMDS_ENDPOINT", "imds-endpoint", "", "instance metadata endpoint (default: the SDK's, 169.254.169.254)", func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("must be an http(s) URL such as http://127.0.0.1:1338")
		}
		c.IMDSEndpoint = v
		return nil
	}},
	{"IMDS_DISABLED", "imds-disabled", "false", "never ask the instance metadata service (off EC2)", func(c *Config, v string) (err error) {
		c.IMDSDisabled, err = boolean(v)
		return
	}},
}

// Load reads the settings: a flag in args wins over the variable from getenv, which wins over the
// default. The error names the variable, e.g. `invalid PORT="99999": must be an integer from 1 to 65535`.
func Load(args []string, getenv func(string) string) (Config, error) {
	fs := flag.NewFlagSet("scaleapp", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	flags := make(map[string]*flagValue, len(settings))
	for _, s := range settings {
		flags[s.flag] = &flagValue{isBool: s.def == "true" || s.def == "false"}
		fs.Var(flags[s.flag], s.flag, fmt.Sprintf("%s (env %s, default %q)", s.usage, s.env, s.def))
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("command line: %w (see scaleapp -help)", err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("command line: unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	c := Config{IMDSProbeTimeout: 300 * time.Millisecond}
	given := map[string]string{} // env name -> "NAME=value" as given, for errors that involve two settings
	for _, s := range settings {
		v, name := s.def, s.env
		if e := getenv(s.env); e != "" {
			v = e
		}
		if set[s.flag] {
			v, name = flags[s.flag].v, "-"+s.flag
		}
		shown := v
		if s.env == "STRESS_TOKEN" {
			shown = "<redacted>"
		}
		given[s.env] = fmt.Sprintf("%s=%q", name, shown)
		if err := s.parse(&c, strings.TrimSpace(v)); err != nil {
			return Config{}, fmt.Errorf("invalid %s: %w", given[s.env], err)
		}
	}
	if c.CPUStressTime > c.StressMax {
		return Config{}, fmt.Errorf("invalid %s: must not exceed %s", given["CPU_STRESS_TIME"], given["STRESS_MAX_SECONDS"])
	}
	if limit := StopBudget(); c.DrainDelay+c.ShutdownTimeout > limit {
		return Config{}, fmt.Errorf("invalid %s + %s: together at most %s, so the drain ends before the unit's TimeoutStopSec=%ds (contract stop_timeout_seconds) kills it, with %s to spare",
			given["DRAIN_DELAY"], given["SHUTDOWN_TIMEOUT"], limit, contract.C.StopTimeoutSeconds, stopMargin)
	}
	return c, nil
}

// stopMargin is what the stop timeout keeps beyond the drain and the shutdown: the last log lines, the
// process's exit, a loaded machine.
const stopMargin = 5 * time.Second

// StopBudget is the longest DRAIN_DELAY + SHUTDOWN_TIMEOUT accepted: the unit's TimeoutStopSec (the
// contract's stop_timeout_seconds) less a margin. systemd sends SIGKILL at TimeoutStopSec.
func StopBudget() time.Duration {
	return time.Duration(contract.C.StopTimeoutSeconds)*time.Second - stopMargin
}

// Usage describes every setting, for -help.
func Usage(w io.Writer) {
	fmt.Fprintln(w, "usage: scaleapp [flags]        serve\n       scaleapp healthcheck   GET this host's /health, exit 0 when UP")
	fmt.Fprintln(w, "\nEvery flag has an environment variable; the flag wins.")
	for _, s := range settings {
		fmt.Fprintf(w, "  -%-20s %-20s %s (default %q)\n", s.flag, s.env, s.usage, s.def)
	}
}

// flagValue keeps a flag's text for the setting's own parser; a boolean one may stand alone (-imds-disabled).
type flagValue struct {
	v      string
	isBool bool
}

func (f *flagValue) String() string     { return f.v }
func (f *flagValue) Set(v string) error { f.v = v; return nil }
func (f *flagValue) IsBoolFlag() bool   { return f.isBool }

func intIn(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("must be an integer from %d to %d", lo, hi)
	}
	return n, nil
}

// seconds reads a whole number of seconds, as the original CPU_STRESS_TIME did.
func seconds(v string) (time.Duration, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 86400 {
		return 0, errors.New("must be a whole number of seconds from 1 to 86400")
	}
	return time.Duration(n) * time.Second, nil
}

func duration(v string, min time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < min || d > time.Hour {
		return 0, fmt.Errorf("must be a duration such as 15s or 500ms, from %s to 1h", min)
	}
	return d, nil
}

func boolean(v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errors.New("must be true or false")
	}
	return b, nil
}
