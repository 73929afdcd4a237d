// Package awsfleet reads an Auto Scaling group, its scaling policies and instance refreshes, its ALB
// target group and the caller's identity through aws-sdk-go-v2, for the scale test's checks and poll
// loop. The SDK clients sit behind small interfaces so the mapping from API answers is tested without AWS.
package awsfleet

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/scaleapp/scaleapp/scripts/scale-test/poll"
	"github.com/scaleapp/scaleapp/scripts/scale-test/timeline"
)

// AutoScaling is the part of *autoscaling.Client the test uses.
type AutoScaling interface {
	DescribeAutoScalingGroups(context.Context, *autoscaling.DescribeAutoScalingGroupsInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	DescribeScalingActivities(context.Context, *autoscaling.DescribeScalingActivitiesInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeScalingActivitiesOutput, error)
	DescribePolicies(context.Context, *autoscaling.DescribePoliciesInput, ...func(*autoscaling.Options)) (*autoscaling.DescribePoliciesOutput, error)
	DescribeInstanceRefreshes(context.Context, *autoscaling.DescribeInstanceRefreshesInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeInstanceRefreshesOutput, error)
}

// Caller is the part of *sts.Client the test uses: who the credentials belong to.
type Caller interface {
	GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// WhoAmI checks that the credentials work, before anything is stressed, and returns their ARN.
func WhoAmI(ctx context.Context, c Caller) (string, error) {
	out, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("AWS credentials do not work (sts GetCallerIdentity): %w", err)
	}
	return aws.ToString(out.Arn), nil
}

// TargetHealth is the part of *elasticloadbalancingv2.Client the test uses.
type TargetHealth interface {
	DescribeTargetHealth(context.Context, *elasticloadbalancingv2.DescribeTargetHealthInput, ...func(*elasticloadbalancingv2.Options)) (*elasticloadbalancingv2.DescribeTargetHealthOutput, error)
}

// Fleet implements poll.Fleet for one group and one target group.
type Fleet struct {
	ASG            AutoScaling
	ELB            TargetHealth
	GroupName      string
	TargetGroupARN string
}

// activityWindow is how many recent activities each poll reads: a scale-out adds one per instance.
const activityWindow = 10

// Policy is one of the group's scaling policies.
type Policy struct {
	Name, Type string
	Enabled    bool
	ScalesOut  bool     // it can add instances on a metric: target tracking, or a positive step or adjustment
	Alarms     []string // the CloudWatch alarms that trigger it (target tracking's are AWS-made)
}

// Group is what the checks before a run need to know about the group.
type Group struct {
	Desired, Min, Max, InService int
	HealthCheckType              string // EC2 or ELB: only ELB replaces an instance whose target fails
	Policies                     []Policy
}

// Group reads the group's capacity, health check type and scaling policies.
func (f Fleet) Group(ctx context.Context) (Group, error) {
	var g Group
	asg, err := f.group(ctx)
	if err != nil {
		return g, err
	}
	g.Desired, g.Min, g.Max = int(aws.ToInt32(asg.DesiredCapacity)), int(aws.ToInt32(asg.MinSize)), int(aws.ToInt32(asg.MaxSize))
	g.HealthCheckType = aws.ToString(asg.HealthCheckType)
	for _, in := range asg.Instances {
		if in.LifecycleState == astypes.LifecycleStateInService {
			g.InService++
		}
	}
	pols, err := f.ASG.DescribePolicies(ctx, &autoscaling.DescribePoliciesInput{AutoScalingGroupName: aws.String(f.GroupName)})
	if err != nil {
		return g, fmt.Errorf("DescribePolicies: %w", err)
	}
	for _, p := range pols.ScalingPolicies {
		pol := Policy{Name: aws.ToString(p.PolicyName), Type: aws.ToString(p.PolicyType), Enabled: aws.ToBool(p.Enabled)}
		switch pol.Type {
		case "TargetTrackingScaling":
			pol.ScalesOut = true
		case "StepScaling":
			for _, st := range p.StepAdjustments {
				pol.ScalesOut = pol.ScalesOut || aws.ToInt32(st.ScalingAdjustment) > 0
			}
		case "SimpleScaling":
			pol.ScalesOut = aws.ToInt32(p.ScalingAdjustment) > 0
		}
		for _, a := range p.Alarms {
			pol.Alarms = append(pol.Alarms, aws.ToString(a.AlarmName))
		}
		g.Policies = append(g.Policies, pol)
	}
	return g, nil
}

// Refresh is an instance refresh of the group.
type Refresh struct {
	ID, Status string
	Percent    int
}

// refreshRunning are the states in which a refresh still replaces (or rolls back) instances.
var refreshRunning = []astypes.InstanceRefreshStatus{astypes.InstanceRefreshStatusPending, astypes.InstanceRefreshStatusInProgress,
	astypes.InstanceRefreshStatusCancelling, astypes.InstanceRefreshStatusRollbackInProgress, astypes.InstanceRefreshStatusBaking}

// RunningRefresh returns the group's instance refresh in progress, or nil when none is.
func (f Fleet) RunningRefresh(ctx context.Context) (*Refresh, error) {
	out, err := f.ASG.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String(f.GroupName)})
	if err != nil {
		return nil, fmt.Errorf("DescribeInstanceRefreshes: %w", err)
	}
	for _, r := range out.InstanceRefreshes {
		if slices.Contains(refreshRunning, r.Status) {
			return &Refresh{ID: aws.ToString(r.InstanceRefreshId), Status: string(r.Status), Percent: int(aws.ToInt32(r.PercentageComplete))}, nil
		}
	}
	return nil, nil
}

func (f Fleet) group(ctx context.Context) (astypes.AutoScalingGroup, error) {
	groups, err := f.ASG.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{
		AutoScalingGroupNames: []string{f.GroupName},
	})
	if err != nil {
		return astypes.AutoScalingGroup{}, fmt.Errorf("DescribeAutoScalingGroups: %w", err)
	}
	if len(groups.AutoScalingGroups) != 1 {
		return astypes.AutoScalingGroup{}, fmt.Errorf("auto scaling group %q not found (is the region right?)", f.GroupName)
	}
	return groups.AutoScalingGroups[0], nil
}

// State reads desired capacity, the members and their targets' states, and the latest activities.
func (f Fleet) State(ctx context.Context) (poll.FleetState, error) {
	var st poll.FleetState
	g, err := f.group(ctx)
	if err != nil {
		return st, err
	}
	st.Desired = int(aws.ToInt32(g.DesiredCapacity))
	for _, in := range g.Instances {
		if in.LifecycleState == astypes.LifecycleStateInService {
			st.InService++
		}
		st.Instances = append(st.Instances, timeline.Instance{ID: aws.ToString(in.InstanceId),
			Lifecycle: string(in.LifecycleState), Health: aws.ToString(in.HealthStatus)})
	}

	acts, err := f.ASG.DescribeScalingActivities(ctx, &autoscaling.DescribeScalingActivitiesInput{
		AutoScalingGroupName: aws.String(f.GroupName),
		MaxRecords:           aws.Int32(activityWindow),
	})
	if err != nil {
		return st, fmt.Errorf("DescribeScalingActivities: %w", err)
	}
	for _, a := range acts.Activities {
		st.Activities = append(st.Activities, poll.Activity{
			ID:          aws.ToString(a.ActivityId),
			Start:       aws.ToTime(a.StartTime),
			Status:      string(a.StatusCode),
			Description: aws.ToString(a.Description),
			Cause:       aws.ToString(a.Cause),
		})
	}

	health, err := f.ELB.DescribeTargetHealth(ctx, &elasticloadbalancingv2.DescribeTargetHealthInput{
		TargetGroupArn: aws.String(f.TargetGroupARN),
	})
	if err != nil {
		return st, fmt.Errorf("DescribeTargetHealth: %w", err)
	}
	targets := map[string]string{}
	for _, d := range health.TargetHealthDescriptions {
		if d.TargetHealth == nil {
			continue
		}
		if d.TargetHealth.State == elbtypes.TargetHealthStateEnumHealthy {
			st.Healthy++
		}
		if d.Target != nil {
			targets[aws.ToString(d.Target.Id)] = string(d.TargetHealth.State)
		}
	}
	for i := range st.Instances {
		st.Instances[i].Target = targets[st.Instances[i].ID]
	}
	return st, nil
}

// Validate reports every missing setting at once.
func (f Fleet) Validate() error {
	var errs []error
	if f.GroupName == "" {
		errs = append(errs, errors.New("the Auto Scaling group name is empty"))
	}
	if f.TargetGroupARN == "" {
		errs = append(errs, errors.New("the target group ARN is empty"))
	}
	return errors.Join(errs...)
}
