//go:generate go tool packer-sdc mapstructure-to-hcl2 -type Config

// Package healthgate is a Packer provisioner that refuses to let a bake continue unless the service
// really runs on the instance: it restarts the systemd unit, waits until systemd reports it
// active/running without a single restart, GETs the health URL on the instance and requires the
// expected status and body. On any failure it prints the unit's journal and fails the build, so no
// image is captured from a broken bake. Everything runs through Packer's communicator (SSH on
// amazon-ebs), so the check sees exactly what the instance sees.
package healthgate

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/packer-plugin-sdk/common"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"
	"github.com/zclconf/go-cty/cty"
)

// Defaults match contract/contract.json (unit, port, health path, OK body); contract/plugin_test.go
// fails when they drift apart.
const (
	DefaultUnit         = "scaleapp.service"
	DefaultURL          = "http://127.0.0.1:8080/health"
	DefaultExpectedBody = "UP"
	DefaultReadyTimeout = 60 * time.Second
	DefaultJournalLines = 100
)

// Config is the provisioner's arguments; the mapstructure tags are the HCL2 argument names.
type Config struct {
	common.PackerConfig `mapstructure:",squash"`

	// Unit is the systemd unit to restart and watch.
	Unit string `mapstructure:"unit"`
	// URL is fetched on the instance (with curl through the communicator), so a loopback address
	// checks the service without opening any port to the builder.
	URL string `mapstructure:"url"`
	// ExpectedBody must equal the response body exactly; the status must be 200.
	ExpectedBody string `mapstructure:"expected_body"`
	// ReadyTimeout bounds the gate: restart, reaching active/running, and a successful GET. (It is
	// not called `timeout`: Packer keeps that name for its own per-provisioner limit and never passes
	// it to the plugin. That limit works too: it cancels the gate, and the journal is still printed.)
	ReadyTimeout time.Duration `mapstructure:"ready_timeout"`
	// JournalLines is how much of the unit's journal is printed when the gate fails.
	JournalLines int `mapstructure:"journal_lines"`

	ctx interpolate.Context
}

// Provisioner implements packersdk.Provisioner.
type Provisioner struct {
	config Config
}

var _ packersdk.Provisioner = new(Provisioner)

// unitName accepts the characters systemd allows in unit names, so the name can never smuggle
// shell syntax even though it is also quoted; no leading '-', which systemctl would read as an option.
var unitName = regexp.MustCompile(`^[A-Za-z0-9:_.@\\][A-Za-z0-9:_.@\\-]*$`)

func (p *Provisioner) ConfigSpec() hcldec.ObjectSpec { return p.config.FlatMapstructure().HCL2Spec() }

func (p *Provisioner) Prepare(raws ...interface{}) error {
	// An argument left out takes its default, but one written as "" is a mistake worth naming
	// (mapstructure alone cannot tell the two apart).
	var errs *packersdk.MultiError
	for _, name := range explicitlyEmpty(raws, "unit", "url", "expected_body") {
		errs = packersdk.MultiErrorAppend(errs, fmt.Errorf("%s must not be empty: leave it out to use the default", name))
	}
	err := config.Decode(&p.config, &config.DecodeOpts{
		PluginType:         "scaleapp-healthgate",
		Interpolate:        true,
		InterpolateContext: &p.config.ctx,
	}, raws...)
	if err != nil {
		return err
	}
	c := &p.config
	if c.Unit == "" {
		c.Unit = DefaultUnit
	}
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if c.ExpectedBody == "" {
		c.ExpectedBody = DefaultExpectedBody
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = DefaultReadyTimeout
	}
	if c.JournalLines == 0 {
		c.JournalLines = DefaultJournalLines
	}

	if !unitName.MatchString(c.Unit) {
		errs = packersdk.MultiErrorAppend(errs, fmt.Errorf("unit %q is not a systemd unit name (letters, digits and :_.@\\- only, not starting with -), e.g. %q", c.Unit, DefaultUnit))
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = packersdk.MultiErrorAppend(errs, fmt.Errorf("url %q must be an absolute http:// or https:// URL with a host, e.g. %q", c.URL, DefaultURL))
	}
	if c.ReadyTimeout < 0 {
		errs = packersdk.MultiErrorAppend(errs, fmt.Errorf("ready_timeout %s must be positive, e.g. \"60s\"", c.ReadyTimeout))
	}
	if c.JournalLines < 0 {
		errs = packersdk.MultiErrorAppend(errs, fmt.Errorf("journal_lines %d must be positive (default %d)", c.JournalLines, DefaultJournalLines))
	}
	if errs != nil && len(errs.Errors) > 0 {
		return errs
	}
	return nil
}

// explicitlyEmpty lists the names set to "" in HCL2 (cty object) or legacy JSON (map) raws.
func explicitlyEmpty(raws []interface{}, names ...string) []string {
	var empty []string
	for _, name := range names {
		for _, raw := range raws {
			switch v := raw.(type) {
			case cty.Value:
				if v.IsKnown() && !v.IsNull() && v.Type().IsObjectType() && v.Type().HasAttribute(name) {
					a := v.GetAttr(name)
					if a.IsKnown() && !a.IsNull() && a.Type() == cty.String && a.AsString() == "" {
						empty = append(empty, name)
					}
				}
			case map[string]interface{}:
				if s, ok := v[name].(string); ok && s == "" {
					empty = append(empty, name)
				}
			}
		}
	}
	return empty
}

// Provision runs the gate. Each failure prints the journal excerpt before the error is returned,
// because the error alone rarely says why a service did not come up.
func (p *Provisioner) Provision(ctx context.Context, ui packersdk.Ui, comm packersdk.Communicator, _ map[string]interface{}) error {
	c := p.config
	if comm == nil {
		return fmt.Errorf("health gate: the build has no communicator (communicator = \"none\"?): %s must be checked on the instance, over ssh", c.Unit)
	}
	ui.Say(fmt.Sprintf("Health gate: restarting %s, then GET %s (expect 200 %q), within %s", c.Unit, c.URL, c.ExpectedBody, c.ReadyTimeout))

	// ready_timeout bounds id -u as well: a stalled SSH session there must not wait for Packer's own
	// timeout, and must still end with the journal.
	gateCtx, cancel := context.WithTimeout(ctx, c.ReadyTimeout)
	defer cancel()
	start := time.Now()
	r := &remote{comm: comm}
	err := r.detectSudo(gateCtx)
	if errors.Is(err, errNoCommunicator) {
		return fmt.Errorf("health gate: %w", err) // nothing could read a journal either
	}
	if err == nil {
		if r.sudo {
			ui.Say("Health gate: remote user is not root, running systemctl and journalctl through sudo -n")
		}
		err = p.gate(gateCtx, ui, r, start)
	}
	if err == nil {
		ui.Say(fmt.Sprintf("Health gate passed in %s", seconds(time.Since(start))))
		return nil
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		err = fmt.Errorf("%w (ready_timeout %s)", err, c.ReadyTimeout)
	case errors.Is(ctx.Err(), context.Canceled):
		// Across the plugin boundary Packer's own `timeout` and Ctrl-C both arrive as a cancel.
		err = fmt.Errorf("%w (cancelled by packer: its provisioner timeout or an interrupt)", err)
	}
	p.printJournal(ctx, ui, r) // without sudo when id -u failed: the uid is unknown
	return fmt.Errorf("health gate failed for %s: %w; journal excerpt printed above", c.Unit, err)
}

func (p *Provisioner) gate(ctx context.Context, ui packersdk.Ui, r *remote, start time.Time) error {
	c := p.config
	res, err := r.run(ctx, "systemctl restart "+quote(c.Unit), true)
	if err != nil {
		return fmt.Errorf("systemctl restart: %w", err)
	}
	if res.exit != 0 {
		return fmt.Errorf("systemctl restart exited %d: %s", res.exit, oneLine(res.stderr))
	}
	ui.Say(fmt.Sprintf("systemctl restart %s returned in %s", c.Unit, seconds(time.Since(start))))

	st, err := waitRunning(ctx, r, c.Unit, pollInterval(c.ReadyTimeout))
	if err != nil {
		return err
	}
	if err := st.notEnabled(); err != nil {
		return err
	}
	ui.Say(fmt.Sprintf("unit active/running after %s, NRestarts=%d, %s%s", seconds(time.Since(start)), st.NRestarts, st.UnitFileState, st.readyNote()))

	h, err := getHealth(ctx, r, c.URL, pollInterval(c.ReadyTimeout))
	if err != nil {
		return err
	}
	if h.status != 200 || h.body != c.ExpectedBody {
		return fmt.Errorf("GET %s -> %d %q, want 200 %q", c.URL, h.status, h.body, c.ExpectedBody)
	}
	ui.Say(fmt.Sprintf("GET %s -> %d %s in %d ms", c.URL, h.status, h.body, h.elapsed.Milliseconds()))

	// A service that crashes right after answering once would restart on the instance and still pass
	// the checks above, so look once more.
	st, err = showUnit(ctx, r, c.Unit)
	if err != nil {
		return err
	}
	if st.broken() != nil || !st.running() {
		return fmt.Errorf("unit changed after the health check: %s", st)
	}
	return nil
}

func (p *Provisioner) printJournal(ctx context.Context, ui packersdk.Ui, r *remote) {
	c := p.config
	// The gate's own deadline may be spent; the excerpt gets a short budget of its own.
	jctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	cmd := fmt.Sprintf("journalctl -u %s -n %d --no-pager", quote(c.Unit), c.JournalLines)
	ui.Say(fmt.Sprintf("---- %s ----", cmd))
	res, err := r.run(jctx, cmd, true)
	switch {
	case err != nil:
		ui.Say("(could not read the journal: " + err.Error() + ")")
	case res.exit != 0:
		ui.Say(fmt.Sprintf("(journalctl exited %d: %s)", res.exit, oneLine(res.stderr)))
	}
	for _, line := range lines(res.stdout) {
		ui.Say(line)
	}
	ui.Say("---- end of journal excerpt ----")
}

// pollInterval keeps short timeouts (tests, impatient templates) responsive without hammering SSH
// during long ones.
func pollInterval(timeout time.Duration) time.Duration {
	return min(250*time.Millisecond, timeout/10)
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
