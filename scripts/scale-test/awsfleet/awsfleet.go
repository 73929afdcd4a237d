// Package awsfleet reads an Auto Scaling group and its ALB target group through aws-sdk-go-v2, for the
// scale-out test's poll loop. The SDK clients sit behind two one-method-per-call interfaces so the
// mapping from API answers to counts is tested without AWS.
package awsfleet

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/scaleapp/scaleapp/scripts/scale-test/poll"
)

// AutoScaling is the part of *autoscaling.Client the test uses.
type AutoScaling interface {
	DescribeAutoScalingGroups(context.Context, *autoscaling.DescribeAutoScalingGroupsInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	DescribeScalingActivities(context.Context, *autoscaling.DescribeScalingActivitiesInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeScalingActivitiesOutput, error)
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

// State reads desired capacity and InService instances, healthy targets, and the latest activities.
func (f Fleet) State(ctx context.Context) (poll.FleetState, error) {
	var st poll.FleetState
	groups, err := f.ASG.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{
		AutoScalingGroupNames: []string{f.GroupName},
	})
	if err != nil {
		return st, fmt.Errorf("DescribeAutoScalingGroups: %w", err)
	}
	if len(groups.AutoScalingGroups) != 1 {
		return st, fmt.Errorf("auto scaling group %q not found (is the region right?)", f.GroupName)
	}
	g := groups.AutoScalingGroups[0]
	st.Desired = int(aws.ToInt32(g.DesiredCapacity))
	for _, in := range g.Instances {
		if in.LifecycleState == astypes.LifecycleStateInService {
			st.InService++
		}
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
	for _, d := range health.TargetHealthDescriptions {
		if d.TargetHealth != nil && d.TargetHealth.State == elbtypes.TargetHealthStateEnumHealthy {
			st.Healthy++
		}
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
