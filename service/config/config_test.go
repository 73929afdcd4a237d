package config

import (
	"strings"
	"testing"
	"time"

	"github.com/scaleapp/scaleapp/contract"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.CPUStressTime != time.Minute || c.StressMax != 900*time.Second || !c.StressEnabled ||
		c.DrainDelay != 0 || c.ShutdownTimeout != 10*time.Second || c.IMDSDisabled || !c.StressIsolation {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestOverrides(t *testing.T) {
	c, err := Load([]string{"-port", "9000", "-imds-disabled", "-drain-delay=2s"},
		env(map[string]string{"PORT": "7000", "CPU_STRESS_TIME": "30", "STRESS_TOKEN": "abc", "LOG_LEVEL": "debug",
			"IMDS_ENDPOINT": "http://127.0.0.1:1338"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 9000 || c.CPUStressTime != 30*time.Second || c.StressToken != "abc" || !c.IMDSDisabled ||
		c.DrainDelay != 2*time.Second || c.LogLevel.String() != "debug" || c.IMDSEndpoint != "http://127.0.0.1:1338" {
		t.Fatalf("flag should win over env, env over default: %+v", c)
	}
}

func TestInvalid(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, map[string]string{"PORT": "99999"}, `invalid PORT="99999": must be an integer from 1 to 65535`},
		{nil, map[string]string{"PORT": "http"}, `invalid PORT="http"`},
		{[]string{"-port", "0"}, nil, `invalid -port="0"`},
		{nil, map[string]string{"CPU_STRESS_TIME": "1.5"}, `invalid CPU_STRESS_TIME="1.5": must be a whole number`},
		{nil, map[string]string{"CPU_STRESS_TIME": "1000"}, `invalid CPU_STRESS_TIME="1000": must not exceed STRESS_MAX_SECONDS="900"`},
		{[]string{"-stress-max-seconds", "30"}, nil, `invalid CPU_STRESS_TIME="60": must not exceed -stress-max-seconds="30"`},
		{nil, map[string]string{"STRESS_MAX_SECONDS": "0"}, `invalid STRESS_MAX_SECONDS="0"`},
		{nil, map[string]string{"STRESS_ENABLED": "yes"}, `invalid STRESS_ENABLED="yes": must be true or false`},
		{nil, map[string]string{"STRESS_TOKEN": "a b"}, `invalid STRESS_TOKEN="<redacted>": must not contain white space`},
		{nil, map[string]string{"DRAIN_DELAY": "15"}, `invalid DRAIN_DELAY="15": must be a duration`},
		{nil, map[string]string{"DRAIN_DELAY": "-1s"}, `invalid DRAIN_DELAY="-1s"`},
		{nil, map[string]string{"SHUTDOWN_TIMEOUT": "0s"}, `invalid SHUTDOWN_TIMEOUT="0s"`},
		{nil, map[string]string{"LOG_LEVEL": "verbose"}, `invalid LOG_LEVEL="verbose"`},
		{nil, map[string]string{"IMDS_ENDPOINT": "169.254.169.254"}, `invalid IMDS_ENDPOINT="169.254.169.254"`},
		{nil, map[string]string{"IMDS_DISABLED": "2"}, `invalid IMDS_DISABLED="2"`},
		{nil, map[string]string{"DRAIN_DELAY": "40s"}, `invalid DRAIN_DELAY="40s" + SHUTDOWN_TIMEOUT="10s": together at most 30s, so the drain ends before the unit's TimeoutStopSec=35s`},
		{[]string{"-shutdown-timeout", "16s"}, map[string]string{"DRAIN_DELAY": "15s"}, `invalid DRAIN_DELAY="15s" + -shutdown-timeout="16s": together at most 30s`},
		{[]string{"-nope"}, nil, "command line: flag provided but not defined: -nope"},
		{[]string{"serve"}, nil, `command line: unexpected argument "serve"`},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			_, err := Load(c.args, env(c.env))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is more than one line: %q", err)
			}
		})
	}
}

func TestTokenNeverPrinted(t *testing.T) {
	_, err := Load(nil, env(map[string]string{"STRESS_TOKEN": "top secret"}))
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("err = %v", err)
	}
}

// TestStopBudgetFitsTheContract: the AMI's own drain and shutdown fit, and up to the budget is accepted.
func TestStopBudgetFitsTheContract(t *testing.T) {
	for _, e := range []map[string]string{
		{"DRAIN_DELAY": contract.C.DrainDelay().String(), "SHUTDOWN_TIMEOUT": contract.C.ShutdownTimeout().String()},
		{"DRAIN_DELAY": (StopBudget() - time.Second).String(), "SHUTDOWN_TIMEOUT": "1s"},
	} {
		if _, err := Load(nil, env(e)); err != nil {
			t.Errorf("%v: %v", e, err)
		}
	}
}
