package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	ok := []string{"-url", "http://alb", "-asg", "g", "-target-group", "arn:tg"}
	cases := []struct {
		name string
		args []string
		want string // substring of the error; "" = valid
	}{
		{"minimal", ok, ""},
		{"missing required", []string{"-url", "http://alb"}, "-url, -asg and -target-group are required"},
		{"replace", append(ok, "-mode", "replace", "-timeout", "40m"), ""},
		{"unknown mode", append(ok, "-mode", "chaos"), `-mode "chaos": want scale-out or replace`},
		{"timeout too short", append(ok, "-timeout", "3s"), "-timeout 3s"},
		{"timeout beyond the stress cap", append(ok, "-timeout", "16m"), "-timeout 16m0s: want 5s..15m0s for scale-out"},
		{"timeout beyond the failure cap", append(ok, "-mode", "replace", "-timeout", "61m"), "want 5s..1h0m0s for replace"},
		{"interval longer than the default timeout", append(ok, "-interval", "11m"), "-interval 11m0s"},
		{"load out of range", append(ok, "-load", "0"), "-load 0"},
		{"negative instances", append(ok, "-instances", "-1"), "-instances and -max-failed >= 0"},
		{"no samples", append(ok, "-samples", "0"), "-samples must be >= 1"},
		{"negative refresh wait", append(ok, "-refresh-wait", "-1s"), "-refresh-wait -1s"},
		{"stray argument", append(ok, "extra"), `unexpected arguments ["extra"]`},
		{"unknown flag", append(ok, "-token", "x"), "flag provided but not defined: -token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := parse(c.args, io.Discard)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("err = %v, want %q", err, c.want)
			case err == nil && o.timeout == 0:
				t.Fatalf("no timeout set for mode %s", o.mode)
			}
		})
	}
}

func TestRunBadUsageExits2(t *testing.T) {
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"-url", "alb-without-scheme", "-asg", "g", "-target-group", "arn"}, &out, &errOut); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errOut.String(), "want http(s)://host") {
		t.Errorf("stderr %q does not say what is wrong with the URL", errOut.String())
	}
}
