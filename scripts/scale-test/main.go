// Command scale-test proves, against a deployed stack, one of the two behaviours this project exists for,
// with a timeline (one line per poll of the group, its target group and the ALB) and a verdict:
//
//	-mode scale-out  /cpu stress on the instances makes this stack's scaling policy add instances that
//	                 then answer through the ALB (rules: timeline.ScaleOut); scale-in afterwards is
//	                 reported, not awaited
//	-mode replace    one instance made to fail its health check (/health/fail) is taken out by the ALB,
//	                 terminated by the group for failing ELB health checks and replaced by a healthy new
//	                 one while the others keep answering (rules: timeline.Replace)
//
// Before anything is stressed it checks the credentials, the group, its max-size headroom and scaling
// policies (scale-out) or ELB health checks and spare instances (replace), and waits out an instance
// refresh in progress (stressing instances being replaced proves nothing). Exit 0: proven; 1: not proven
// within the timeout; 2: bad usage, a failed check, or nothing could be polled.
//
//	STRESS_TOKEN=... go run ./scripts/scale-test -mode scale-out -url http://ALB -asg NAME -target-group ARN
//
// AWS credentials and region come from the SDK's default chain (AWS_REGION, AWS_PROFILE, instance role).
// The token is read from the environment only, so it never shows on a command line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/scaleapp/scaleapp/scripts/scale-test/awsfleet"
	"github.com/scaleapp/scaleapp/scripts/scale-test/poll"
	"github.com/scaleapp/scaleapp/scripts/scale-test/probe"
	"github.com/scaleapp/scaleapp/scripts/scale-test/timeline"
)

const (
	// maxStressSeconds is the service's default STRESS_MAX_SECONDS: a longer job would get a 400.
	maxStressSeconds = 900
	// maxFailSeconds is the longest failure /health/fail injects.
	maxFailSeconds = 3600
)

type options struct {
	mode, url, asg, targetGroup, region string
	timeout, interval, refreshWait      time.Duration
	samples, load, instances, maxFailed int
	stop                                bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("scale-test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.mode, "mode", "scale-out", "scale-out (CPU stress -> more instances) or replace (failed health check -> new instance)")
	fs.StringVar(&o.url, "url", "", "the ALB's URL, e.g. http://scaleapp-123.eu-west-1.elb.amazonaws.com (required)")
	fs.StringVar(&o.asg, "asg", "", "the Auto Scaling group's name (required)")
	fs.StringVar(&o.targetGroup, "target-group", "", "the target group's ARN (required)")
	fs.StringVar(&o.region, "region", "", "AWS region (default: the SDK's chain, e.g. AWS_REGION)")
	fs.DurationVar(&o.timeout, "timeout", 0, "fail when nothing is proven by then (default 10m for scale-out, 15m for replace)")
	fs.DurationVar(&o.interval, "interval", 15*time.Second, "time between polls")
	fs.DurationVar(&o.refreshWait, "refresh-wait", 30*time.Minute, "how long to wait for an instance refresh in progress to end before starting")
	fs.IntVar(&o.samples, "samples", 10, "GET / requests through the ALB per poll")
	fs.IntVar(&o.load, "load", 100, "scale-out: percent of every core each instance burns (1-100)")
	fs.IntVar(&o.instances, "instances", 0, "scale-out: stress jobs to start (default: the group's in-service instances)")
	fs.BoolVar(&o.stop, "stop", true, "scale-out: stop the stress jobs at the end so the group scales back in")
	fs.IntVar(&o.maxFailed, "max-failed", 0, "replace: requests through the ALB allowed to fail during the run")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if o.url == "" || o.asg == "" || o.targetGroup == "" {
		errs = append(errs, errors.New("-url, -asg and -target-group are required"))
	}
	limit := map[string]time.Duration{"scale-out": maxStressSeconds * time.Second, "replace": maxFailSeconds * time.Second}[o.mode]
	switch o.mode {
	case "scale-out":
		if o.timeout == 0 {
			o.timeout = 10 * time.Minute
		}
	case "replace":
		if o.timeout == 0 {
			o.timeout = 15 * time.Minute
		}
	default:
		errs = append(errs, fmt.Errorf("-mode %q: want scale-out or replace", o.mode))
	}
	if limit > 0 && (o.timeout < 5*time.Second || o.timeout > limit) {
		errs = append(errs, fmt.Errorf("-timeout %v: want 5s..%v for %s (the stress job or injected failure lasts the whole run and the service caps it)", o.timeout, limit, o.mode))
	}
	if o.interval < time.Second || (o.timeout > 0 && o.interval > o.timeout) {
		errs = append(errs, fmt.Errorf("-interval %v: want 1s..timeout", o.interval))
	}
	if o.refreshWait < 0 {
		errs = append(errs, fmt.Errorf("-refresh-wait %v: want >= 0", o.refreshWait))
	}
	if o.load < 1 || o.load > 100 {
		errs = append(errs, fmt.Errorf("-load %d: want 1..100", o.load))
	}
	if o.instances < 0 || o.samples < 1 || o.maxFailed < 0 {
		errs = append(errs, errors.New("-samples must be >= 1, -instances and -max-failed >= 0"))
	}
	return o, errors.Join(errs...)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fail := func(err error) int { fmt.Fprintln(stderr, "scale-test:", err); return 2 }
	o, err := parse(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "scale-test:", err)
		}
		return 2
	}
	client, err := probe.New(o.url, os.Getenv("STRESS_TOKEN"), o.samples)
	if err != nil {
		return fail(err)
	}
	var loadOpts []func(*config.LoadOptions) error
	if o.region != "" {
		loadOpts = append(loadOpts, config.WithRegion(o.region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return fail(fmt.Errorf("AWS configuration: %w", err))
	}
	fleet := awsfleet.Fleet{ASG: autoscaling.NewFromConfig(cfg), ELB: elasticloadbalancingv2.NewFromConfig(cfg),
		GroupName: o.asg, TargetGroupARN: o.targetGroup}
	if err := fleet.Validate(); err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "scale-test %s: %s, group %s, region %s; timeout %v, poll every %v\n",
		o.mode, o.url, o.asg, cfg.Region, o.timeout, o.interval)
	pre := preflight{fleet: fleet, caller: sts.NewFromConfig(cfg), mode: o.mode, interval: o.interval, refreshWait: o.refreshWait, out: stdout}
	g, causes, err := pre.run(ctx)
	if err != nil {
		return fail(err)
	}
	loop := poll.Loop{Fleet: fleet, Prober: client, Interval: o.interval, Timeout: o.timeout, Out: stdout}
	if o.mode == "replace" {
		return replace(ctx, o, g, client, loop, stdout, stderr)
	}
	return scaleOut(ctx, o, g, causes, client, loop, stdout, stderr)
}

func scaleOut(ctx context.Context, o options, g awsfleet.Group, causes []string, client *probe.Client, loop poll.Loop, stdout, stderr io.Writer) int {
	jobs := o.instances
	if jobs == 0 {
		jobs = g.InService
	}
	job := probe.Stress{Seconds: int(o.timeout / time.Second), Load: o.load}
	fmt.Fprintf(stdout, "scale-test: stressing %d instance(s) at %d%% for %d s\n", jobs, o.load, job.Seconds)
	started, err := client.StartOnAll(ctx, job, jobs, 4*jobs+4)
	if err != nil {
		fmt.Fprintln(stderr, "scale-test: starting the stress jobs:", err)
		return 2
	}
	fmt.Fprintf(stdout, "scale-test: %d stress job(s) started (instances already busy answer 409 and are not counted)\n", started)

	loop.Judge = func(s []timeline.Sample) (poll.Verdict, error) { return timeline.JudgeScaleOut(s, causes) }
	v, err := loop.Run(ctx)
	if o.stop {
		// A fresh context: the run's may be cancelled, and the fleet should calm down regardless.
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		n, stopErr := client.StopAll(c, 4*jobs+8, 3)
		cancel()
		fmt.Fprintf(stdout, "scale-test: stopped %d stress job(s)", n)
		if stopErr != nil {
			fmt.Fprintf(stdout, " (%v)", stopErr)
		}
		fmt.Fprintln(stdout)
	}
	if code := report(v, err, stdout, stderr); code != 0 {
		return code
	}
	if o.stop {
		fmt.Fprintf(stdout, "scale-test: scale-in not awaited: with the stress stopped the group returns toward desired %d at its scale-in policy's pace (minutes); watch it: terraform -chdir=terraform output commands\n",
			g.Desired)
	}
	return 0
}

func replace(ctx context.Context, o options, g awsfleet.Group, client *probe.Client, loop poll.Loop, stdout, stderr io.Writer) int {
	// The failure outlasts the run, so the instance stays unhealthy until the group replaces it.
	seconds := int(o.timeout / time.Second)
	victim, err := client.FailOne(ctx, seconds, 4*g.InService+8)
	if err != nil {
		fmt.Fprintln(stderr, "scale-test: making an instance fail its health check:", err)
		return 2
	}
	fmt.Fprintf(stdout, "scale-test: %s answers /health with 503 UNHEALTHY for %d s (POST /health/fail through the ALB); following it\n", victim, seconds)
	loop.Watch = victim
	loop.Judge = func(s []timeline.Sample) (poll.Verdict, error) { return timeline.JudgeReplace(s, victim, o.maxFailed) }
	v, err := loop.Run(ctx)
	return report(v, err, stdout, stderr)
}

// report prints the verdict and gives the exit code: 2 when the run could not judge, 1 on FAIL, 0 on PASS.
func report(v poll.Verdict, err error, stdout, stderr io.Writer) int {
	if err != nil {
		fmt.Fprintln(stderr, "scale-test:", err)
		return 2
	}
	fmt.Fprintln(stdout, v)
	if !v.Passed() {
		return 1
	}
	return 0
}
