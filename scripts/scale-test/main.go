// Command scale-test proves, against a deployed stack, that a CPU spike scales the Auto Scaling group
// out: it starts /cpu stress jobs on the instances behind the ALB, then polls the group, its target group
// and the ALB and prints one timeline line per poll, and a verdict. Exit 0: scaled out; 1: no scale-out
// within the timeout; 2: bad usage or nothing could be polled.
//
//	STRESS_TOKEN=... go run ./scripts/scale-test -url http://ALB -asg NAME -target-group ARN
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

	"github.com/scaleapp/scaleapp/scripts/scale-test/awsfleet"
	"github.com/scaleapp/scaleapp/scripts/scale-test/poll"
	"github.com/scaleapp/scaleapp/scripts/scale-test/probe"
)

// maxStressSeconds is the service's default STRESS_MAX_SECONDS: a longer job would get a 400.
const maxStressSeconds = 900

type options struct {
	url, asg, targetGroup, region string
	timeout, interval             time.Duration
	samples, load, expect         int
	stop                          bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("scale-test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "", "the ALB's URL, e.g. http://scaleapp-123.eu-west-1.elb.amazonaws.com (required)")
	fs.StringVar(&o.asg, "asg", "", "the Auto Scaling group's name (required)")
	fs.StringVar(&o.targetGroup, "target-group", "", "the target group's ARN (required)")
	fs.StringVar(&o.region, "region", "", "AWS region (default: the SDK's chain, e.g. AWS_REGION)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "fail when no scale-out happened by then")
	fs.DurationVar(&o.interval, "interval", 15*time.Second, "time between polls")
	fs.IntVar(&o.samples, "samples", 10, "GET / requests through the ALB per poll")
	fs.IntVar(&o.load, "load", 100, "percent of every core each instance burns (1-100)")
	fs.IntVar(&o.expect, "instances", 2, "instances to stress at the start (the group's desired capacity)")
	fs.BoolVar(&o.stop, "stop", true, "stop the stress jobs at the end so the group scales back in")
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
	if o.timeout < 5*time.Second || o.timeout > maxStressSeconds*time.Second {
		errs = append(errs, fmt.Errorf("-timeout %v: want 5s..15m (the stress job lasts the whole run and the service caps it at %d s)", o.timeout, maxStressSeconds))
	}
	if o.interval < time.Second || o.interval > o.timeout {
		errs = append(errs, fmt.Errorf("-interval %v: want 1s..timeout", o.interval))
	}
	if o.load < 1 || o.load > 100 {
		errs = append(errs, fmt.Errorf("-load %d: want 1..100", o.load))
	}
	if o.expect < 1 || o.samples < 1 {
		errs = append(errs, errors.New("-instances and -samples must be >= 1"))
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
	o, err := parse(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "scale-test:", err)
		}
		return 2
	}
	client, err := probe.New(o.url, os.Getenv("STRESS_TOKEN"), o.samples)
	if err != nil {
		fmt.Fprintln(stderr, "scale-test:", err)
		return 2
	}
	var loadOpts []func(*config.LoadOptions) error
	if o.region != "" {
		loadOpts = append(loadOpts, config.WithRegion(o.region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		fmt.Fprintln(stderr, "scale-test: AWS configuration:", err)
		return 2
	}
	fleet := awsfleet.Fleet{ASG: autoscaling.NewFromConfig(cfg), ELB: elasticloadbalancingv2.NewFromConfig(cfg),
		GroupName: o.asg, TargetGroupARN: o.targetGroup}
	if err := fleet.Validate(); err != nil {
		fmt.Fprintln(stderr, "scale-test:", err)
		return 2
	}

	job := probe.Stress{Seconds: int(o.timeout / time.Second), Load: o.load}
	fmt.Fprintf(stdout, "scale-test: %s, group %s, region %s; stressing %d instance(s) at %d%% for %d s; timeout %v, poll every %v\n",
		o.url, o.asg, cfg.Region, o.expect, o.load, job.Seconds, o.timeout, o.interval)
	started, err := client.StartOnAll(ctx, job, o.expect, 4*o.expect+4)
	if err != nil {
		fmt.Fprintln(stderr, "scale-test: starting the stress jobs:", err)
		return 2
	}
	fmt.Fprintf(stdout, "scale-test: %d stress job(s) started (instances already busy answer 409 and are not counted)\n", started)
	if o.stop {
		defer func() {
			// A fresh context: the run's may be cancelled, and the fleet should calm down regardless.
			c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			n, err := client.StopAll(c, 4*o.expect+8, 3)
			fmt.Fprintf(stdout, "scale-test: stopped %d stress job(s)", n)
			if err != nil {
				fmt.Fprintf(stdout, " (%v)", err)
			}
			fmt.Fprintln(stdout)
		}()
	}

	v, err := poll.Loop{Fleet: fleet, Prober: client, Interval: o.interval, Timeout: o.timeout, Out: stdout}.Run(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "scale-test:", err)
		return 2
	}
	fmt.Fprintln(stdout, v)
	if !v.ScaledOut {
		return 1
	}
	return 0
}
