package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/scaleapp/scaleapp/scripts/scale-test/awsfleet"
	"github.com/scaleapp/scaleapp/scripts/scale-test/poll"
)

// preflight runs the checks before anything is stressed, printing one line per check. Each failure is an
// error that says what to fix; the run then stops with exit 2 without touching an instance.
type preflight struct {
	fleet       awsfleet.Fleet
	caller      awsfleet.Caller
	mode        string
	interval    time.Duration // between looks at an instance refresh in progress
	refreshWait time.Duration // how long to wait for it
	out         io.Writer
	sleep       func(context.Context, time.Duration) error // a test may replace it
}

// run returns the group as found, and for scale-out the names (policies and their alarms) that a
// scaling activity's cause must mention to count as this stack's scale-out.
func (p preflight) run(ctx context.Context) (awsfleet.Group, []string, error) {
	arn, err := awsfleet.WhoAmI(ctx, p.caller)
	if err != nil {
		return awsfleet.Group{}, nil, err
	}
	fmt.Fprintf(p.out, "check: credentials of %s\n", arn)

	if err := p.waitRefresh(ctx); err != nil {
		return awsfleet.Group{}, nil, err
	}
	g, err := p.fleet.Group(ctx)
	if err != nil {
		return g, nil, err
	}
	fmt.Fprintf(p.out, "check: group %s: desired %d (min %d, max %d), %d in service, health check type %s\n",
		p.fleet.GroupName, g.Desired, g.Min, g.Max, g.InService, g.HealthCheckType)
	if g.InService < 1 {
		return g, nil, fmt.Errorf("group %s has no instance in service: nothing to test", p.fleet.GroupName)
	}
	if p.mode == "replace" {
		if g.HealthCheckType != "ELB" {
			return g, nil, fmt.Errorf("group %s uses %q health checks: only ELB health checks replace an instance whose target fails (terraform sets health_check_type = \"ELB\")",
				p.fleet.GroupName, g.HealthCheckType)
		}
		if g.InService < 2 {
			return g, nil, fmt.Errorf("group %s has %d instance in service: the replace test needs 2 or more, so the others answer while one is replaced", p.fleet.GroupName, g.InService)
		}
		return g, nil, nil
	}
	if g.Desired >= g.Max {
		return g, nil, fmt.Errorf("group %s has no headroom: desired %d, max %d: it cannot scale out (raise max_size)", p.fleet.GroupName, g.Desired, g.Max)
	}
	var causes, names []string
	for _, pol := range g.Policies {
		if !pol.Enabled || !pol.ScalesOut {
			continue
		}
		names = append(names, fmt.Sprintf("%s (%s)", pol.Name, pol.Type))
		causes = append(causes, pol.Name)
		causes = append(causes, pol.Alarms...)
	}
	if len(names) == 0 {
		return g, nil, fmt.Errorf("group %s has no enabled scaling policy that adds instances (found %d policies): a CPU spike cannot scale it out", p.fleet.GroupName, len(g.Policies))
	}
	fmt.Fprintf(p.out, "check: headroom %d instance(s); scale-out policies: %s\n", g.Max-g.Desired, strings.Join(names, ", "))
	return g, causes, nil
}

// waitRefresh waits, bounded, until no instance refresh is in progress.
func (p preflight) waitRefresh(ctx context.Context) error {
	sleep := p.sleep
	if sleep == nil {
		sleep = poll.Sleep
	}
	start := time.Now()
	for {
		r, err := p.fleet.RunningRefresh(ctx)
		if err != nil {
			return err
		}
		if r == nil {
			fmt.Fprintln(p.out, "check: no instance refresh in progress")
			return nil
		}
		waited := time.Since(start)
		if waited >= p.refreshWait {
			return fmt.Errorf("instance refresh %s still %s (%d%%) after %v: rerun when it has ended, or raise -refresh-wait",
				r.ID, r.Status, r.Percent, waited.Round(time.Second))
		}
		fmt.Fprintf(p.out, "check: instance refresh %s %s (%d%% done): waiting for it to end (%v so far)\n",
			r.ID, r.Status, r.Percent, waited.Round(time.Second))
		if err := sleep(ctx, p.interval); err != nil {
			return errors.Join(errors.New("waiting for the instance refresh"), err)
		}
	}
}
