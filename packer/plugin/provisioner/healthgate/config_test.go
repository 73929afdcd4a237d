package healthgate

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/scaleapp/scaleapp/packer/plugin/internal/spectest"
)

func TestPrepareDefaults(t *testing.T) {
	p := prepared(t, nil)
	c := p.config
	if c.Unit != "scaleapp.service" || c.URL != "http://127.0.0.1:8080/health" || c.ExpectedBody != "UP" || c.ReadyTimeout != time.Minute || c.JournalLines != 100 {
		t.Fatalf("defaults = unit %q url %q body %q timeout %s journal_lines %d", c.Unit, c.URL, c.ExpectedBody, c.ReadyTimeout, c.JournalLines)
	}
}

func TestPrepareRejects(t *testing.T) {
	cases := []struct {
		name    string
		raw     map[string]interface{}
		wantErr string
	}{
		{"ready_timeout not a duration", map[string]interface{}{"ready_timeout": "sixty"}, `error decoding 'ready_timeout': time: invalid duration "sixty"`},
		{"ready_timeout without unit", map[string]interface{}{"ready_timeout": "60"}, `'ready_timeout'`},
		{"negative ready_timeout", map[string]interface{}{"ready_timeout": "-5s"}, "ready_timeout -5s must be positive"},
		{"empty unit", map[string]interface{}{"unit": ""}, "unit must not be empty"},
		{"empty url", map[string]interface{}{"url": ""}, "url must not be empty"},
		{"empty expected body", map[string]interface{}{"expected_body": ""}, "expected_body must not be empty"},
		{"unit with shell syntax", map[string]interface{}{"unit": "x; reboot"}, `unit "x; reboot" is not a systemd unit name`},
		{"unit that systemctl would read as an option", map[string]interface{}{"unit": "-Hevil"}, `unit "-Hevil" is not a systemd unit name (letters, digits and :_.@\- only, not starting with -)`},
		{"url not http", map[string]interface{}{"url": "ftp://127.0.0.1/health"}, `url "ftp://127.0.0.1/health" must be an absolute http:// or https:// URL`},
		{"url relative", map[string]interface{}{"url": "/health"}, `url "/health" must be an absolute`},
		{"negative journal_lines", map[string]interface{}{"journal_lines": -1}, "journal_lines -1 must be positive"},
		{"unknown argument", map[string]interface{}{"ready_timout": "5s"}, "ready_timout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := new(Provisioner).Prepare(tc.raw)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Prepare(%v) = %v, want an error containing %q", tc.raw, err, tc.wantErr)
			}
		})
	}
}

// decodeHCL decodes a provisioner block body against the generated spec the way packer does
// (hcldec with the plugin's ConfigSpec), then hands the value to Prepare as packer's RPC layer does.
func decodeHCL(t *testing.T, src string) (*Provisioner, hcl.Diagnostics, error) {
	t.Helper()
	p := new(Provisioner)
	val, diags := spectest.Decode(t, src, p.ConfigSpec())
	if diags.HasErrors() {
		return nil, diags, nil
	}
	return p, nil, p.Prepare(val)
}

func TestHCL2SpecAcceptsKnownArguments(t *testing.T) {
	p, diags, err := decodeHCL(t, `
unit          = "scaleapp.service"
url           = "http://127.0.0.1:8080/health"
expected_body = "UP"
ready_timeout = "90s"
journal_lines = 40
`)
	if diags != nil || err != nil {
		t.Fatalf("diags %s, Prepare %v", diags, err)
	}
	if c := p.config; c.ReadyTimeout != 90*time.Second || c.JournalLines != 40 || c.Unit != "scaleapp.service" || c.ExpectedBody != "UP" {
		t.Fatalf("decoded %+v", c)
	}
}

func TestHCL2SpecRejects(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"unknown argument", `unit = "scaleapp.service"` + "\n" + `retries = 3`, `Unsupported argument; An argument named "retries" is not expected here.`},
		{"misspelt argument", `expected_bdy = "UP"`, `An argument named "expected_bdy" is not expected here. Did you mean "expected_body"?`},
		{"wrong type", `journal_lines = "many"`, `Inappropriate value for attribute "journal_lines": a number is required.`},
		{"block instead of argument", "unit {\n}", `Unsupported block type`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, diags, err := decodeHCL(t, tc.src)
			got := diags.Error()
			if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, tc.want) {
				t.Fatalf("decoding %q gave %q, want %q", tc.src, got, tc.want)
			}
		})
	}
}

func TestHCL2EmptyStringIsAnError(t *testing.T) {
	_, diags, err := decodeHCL(t, `unit = ""`)
	if diags != nil || err == nil || !strings.Contains(err.Error(), "unit must not be empty") {
		t.Fatalf("diags %s, Prepare %v: want \"unit must not be empty\"", diags, err)
	}
}

func TestExplicitlyEmptyIgnoresNullAttributes(t *testing.T) {
	v := cty.ObjectVal(map[string]cty.Value{"unit": cty.NullVal(cty.String), "url": cty.StringVal("")})
	if got := explicitlyEmpty([]interface{}{v}, "unit", "url"); len(got) != 1 || got[0] != "url" {
		t.Fatalf("explicitlyEmpty = %q, want [url]", got)
	}
}

func TestHCL2SpecIsCurrent(t *testing.T) {
	spectest.Current(t, Config{}, new(Provisioner).ConfigSpec())
	for _, own := range []string{"unit", "url", "expected_body", "ready_timeout", "journal_lines"} {
		if _, ok := new(Provisioner).ConfigSpec()[own]; !ok {
			t.Errorf("spec lacks %q", own)
		}
	}
}
