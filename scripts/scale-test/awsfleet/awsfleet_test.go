package awsfleet

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

type fakeASG struct {
	groups    []astypes.AutoScalingGroup
	acts      []astypes.Activity
	groupsErr error
	actsErr   error
	gotGroups *autoscaling.DescribeAutoScalingGroupsInput
	gotActs   *autoscaling.DescribeScalingActivitiesInput
}

func (f *fakeASG) DescribeAutoScalingGroups(_ context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	f.gotGroups = in
	return &autoscaling.DescribeAutoScalingGroupsOutput{AutoScalingGroups: f.groups}, f.groupsErr
}

func (f *fakeASG) DescribeScalingActivities(_ context.Context, in *autoscaling.DescribeScalingActivitiesInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeScalingActivitiesOutput, error) {
	f.gotActs = in
	return &autoscaling.DescribeScalingActivitiesOutput{Activities: f.acts}, f.actsErr
}

type fakeELB struct {
	states []elbtypes.TargetHealthStateEnum
	err    error
	got    *elasticloadbalancingv2.DescribeTargetHealthInput
}

func (f *fakeELB) DescribeTargetHealth(_ context.Context, in *elasticloadbalancingv2.DescribeTargetHealthInput, _ ...func(*elasticloadbalancingv2.Options)) (*elasticloadbalancingv2.DescribeTargetHealthOutput, error) {
	f.got = in
	out := &elasticloadbalancingv2.DescribeTargetHealthOutput{}
	for _, s := range f.states {
		out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, elbtypes.TargetHealthDescription{TargetHealth: &elbtypes.TargetHealth{State: s}})
	}
	out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, elbtypes.TargetHealthDescription{}) // no health block at all
	return out, f.err
}

func group(desired int32, states ...astypes.LifecycleState) astypes.AutoScalingGroup {
	g := astypes.AutoScalingGroup{DesiredCapacity: aws.Int32(desired)}
	for _, s := range states {
		g.Instances = append(g.Instances, astypes.Instance{LifecycleState: s})
	}
	return g
}

func TestState(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name                   string
		asg                    *fakeASG
		elb                    *fakeELB
		desired, inSvc, health int
		acts                   int
		wantErr                string
	}{
		{
			name: "counts only InService instances and healthy targets",
			asg: &fakeASG{groups: []astypes.AutoScalingGroup{group(3, astypes.LifecycleStateInService,
				astypes.LifecycleStatePending, astypes.LifecycleStateInService, astypes.LifecycleStateTerminating)},
				acts: []astypes.Activity{{ActivityId: aws.String("a1"), StartTime: &start, StatusCode: astypes.ScalingActivityStatusCodeInProgress,
					Description: aws.String("Launching a new EC2 instance: i-c"), Cause: aws.String("alarm")}}},
			elb:     &fakeELB{states: []elbtypes.TargetHealthStateEnum{elbtypes.TargetHealthStateEnumHealthy, elbtypes.TargetHealthStateEnumInitial, elbtypes.TargetHealthStateEnumHealthy, elbtypes.TargetHealthStateEnumDraining}},
			desired: 3, inSvc: 2, health: 2, acts: 1,
		},
		{name: "group missing", asg: &fakeASG{}, elb: &fakeELB{}, wantErr: `auto scaling group "web" not found`},
		{name: "group API error", asg: &fakeASG{groupsErr: errors.New("AccessDenied")}, elb: &fakeELB{}, wantErr: "DescribeAutoScalingGroups: AccessDenied"},
		{name: "activities API error", asg: &fakeASG{groups: []astypes.AutoScalingGroup{group(1)}, actsErr: errors.New("Throttling")}, elb: &fakeELB{}, wantErr: "DescribeScalingActivities: Throttling"},
		{name: "target health API error", asg: &fakeASG{groups: []astypes.AutoScalingGroup{group(1)}}, elb: &fakeELB{err: errors.New("TargetGroupNotFound")}, wantErr: "DescribeTargetHealth: TargetGroupNotFound"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := Fleet{ASG: c.asg, ELB: c.elb, GroupName: "web", TargetGroupARN: "arn:tg"}
			st, err := f.State(context.Background())
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.Desired != c.desired || st.InService != c.inSvc || st.Healthy != c.health || len(st.Activities) != c.acts {
				t.Errorf("state %+v, want desired %d in-service %d healthy %d activities %d", st, c.desired, c.inSvc, c.health, c.acts)
			}
			if a := st.Activities[0]; a.ID != "a1" || !a.Start.Equal(start) || a.Status != "InProgress" || a.Description != "Launching a new EC2 instance: i-c" || a.Cause != "alarm" {
				t.Errorf("activity %+v", a)
			}
			if got := c.asg.gotGroups.AutoScalingGroupNames; len(got) != 1 || got[0] != "web" {
				t.Errorf("asked for groups %v", got)
			}
			if aws.ToString(c.asg.gotActs.AutoScalingGroupName) != "web" || aws.ToInt32(c.asg.gotActs.MaxRecords) != activityWindow {
				t.Errorf("asked for activities %+v", c.asg.gotActs)
			}
			if aws.ToString(c.elb.got.TargetGroupArn) != "arn:tg" {
				t.Errorf("asked for target group %q", aws.ToString(c.elb.got.TargetGroupArn))
			}
		})
	}
}

func TestValidate(t *testing.T) {
	if err := (Fleet{GroupName: "g", TargetGroupARN: "arn"}).Validate(); err != nil {
		t.Errorf("complete fleet: %v", err)
	}
	err := Fleet{}.Validate()
	if err == nil || !strings.Contains(err.Error(), "group name is empty") || !strings.Contains(err.Error(), "target group ARN is empty") {
		t.Errorf("empty fleet: %v", err)
	}
}
