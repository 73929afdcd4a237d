package awsfleet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

type fakeASG struct {
	policies  []astypes.ScalingPolicy
	refreshes []astypes.InstanceRefresh
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

func (f *fakeASG) DescribePolicies(context.Context, *autoscaling.DescribePoliciesInput, ...func(*autoscaling.Options)) (*autoscaling.DescribePoliciesOutput, error) {
	return &autoscaling.DescribePoliciesOutput{ScalingPolicies: f.policies}, nil
}

func (f *fakeASG) DescribeInstanceRefreshes(context.Context, *autoscaling.DescribeInstanceRefreshesInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeInstanceRefreshesOutput, error) {
	return &autoscaling.DescribeInstanceRefreshesOutput{InstanceRefreshes: f.refreshes}, nil
}

type fakeELB struct {
	states []elbtypes.TargetHealthStateEnum
	err    error
	got    *elasticloadbalancingv2.DescribeTargetHealthInput
}

func (f *fakeELB) DescribeTargetHealth(_ context.Context, in *elasticloadbalancingv2.DescribeTargetHealthInput, _ ...func(*elasticloadbalancingv2.Options)) (*elasticloadbalancingv2.DescribeTargetHealthOutput, error) {
	f.got = in
	out := &elasticloadbalancingv2.DescribeTargetHealthOutput{}
	for i, s := range f.states {
		out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, elbtypes.TargetHealthDescription{
			Target: &elbtypes.TargetDescription{Id: aws.String(fmt.Sprintf("i-%d", i))}, TargetHealth: &elbtypes.TargetHealth{State: s}})
	}
	out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, elbtypes.TargetHealthDescription{}) // no health block at all
	return out, f.err
}

func group(desired int32, states ...astypes.LifecycleState) astypes.AutoScalingGroup {
	g := astypes.AutoScalingGroup{DesiredCapacity: aws.Int32(desired)}
	for i, s := range states {
		g.Instances = append(g.Instances, astypes.Instance{InstanceId: aws.String(fmt.Sprintf("i-%d", i)), LifecycleState: s, HealthStatus: aws.String("Healthy")})
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
			if in := st.Instances[1]; in.ID != "i-1" || in.Lifecycle != "Pending" || in.Health != "Healthy" || in.Target != "initial" {
				t.Errorf("instance %+v, want i-1 Pending/Healthy with its target initial", in)
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

type fakeSTS struct{ err error }

func (f fakeSTS) GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	return &sts.GetCallerIdentityOutput{Arn: aws.String("arn:aws:iam::1:user/ci")}, f.err
}

func TestWhoAmI(t *testing.T) {
	if arn, err := WhoAmI(context.Background(), fakeSTS{}); err != nil || arn != "arn:aws:iam::1:user/ci" {
		t.Errorf("WhoAmI = %q, %v", arn, err)
	}
	if _, err := WhoAmI(context.Background(), fakeSTS{err: errors.New("ExpiredToken")}); err == nil || !strings.Contains(err.Error(), "credentials do not work") {
		t.Errorf("WhoAmI with bad credentials: %v", err)
	}
}

func TestGroupPolicies(t *testing.T) {
	g := group(2, astypes.LifecycleStateInService, astypes.LifecycleStateInService)
	g.MinSize, g.MaxSize, g.HealthCheckType = aws.Int32(1), aws.Int32(4), aws.String("ELB")
	step := func(adj int32) astypes.StepAdjustment {
		return astypes.StepAdjustment{ScalingAdjustment: aws.Int32(adj)}
	}
	asg := &fakeASG{groups: []astypes.AutoScalingGroup{g}, policies: []astypes.ScalingPolicy{
		{PolicyName: aws.String("tt"), PolicyType: aws.String("TargetTrackingScaling"), Enabled: aws.Bool(true),
			Alarms: []astypes.Alarm{{AlarmName: aws.String("TargetTracking-web-AlarmHigh-1")}, {AlarmName: aws.String("TargetTracking-web-AlarmLow-1")}}},
		{PolicyName: aws.String("out"), PolicyType: aws.String("StepScaling"), Enabled: aws.Bool(true), StepAdjustments: []astypes.StepAdjustment{step(1)}},
		{PolicyName: aws.String("in"), PolicyType: aws.String("StepScaling"), Enabled: aws.Bool(true), StepAdjustments: []astypes.StepAdjustment{step(-1)}},
		{PolicyName: aws.String("simple"), PolicyType: aws.String("SimpleScaling"), Enabled: aws.Bool(false), ScalingAdjustment: aws.Int32(2)},
		{PolicyName: aws.String("predict"), PolicyType: aws.String("PredictiveScaling"), Enabled: aws.Bool(true)},
	}}
	got, err := Fleet{ASG: asg, GroupName: "web"}.Group(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.Desired != 2 || got.Min != 1 || got.Max != 4 || got.InService != 2 || got.HealthCheckType != "ELB" {
		t.Errorf("group %+v", got)
	}
	want := map[string]bool{"tt": true, "out": true, "in": false, "simple": true, "predict": false}
	for _, p := range got.Policies {
		if p.ScalesOut != want[p.Name] {
			t.Errorf("policy %s (%s) ScalesOut = %v, want %v", p.Name, p.Type, p.ScalesOut, want[p.Name])
		}
	}
	if p := got.Policies[0]; len(p.Alarms) != 2 || p.Alarms[0] != "TargetTracking-web-AlarmHigh-1" || !p.Enabled {
		t.Errorf("target tracking policy %+v", p)
	}
	if got.Policies[3].Enabled {
		t.Errorf("a disabled policy read as enabled")
	}
}

func TestRunningRefresh(t *testing.T) {
	ref := func(id string, st astypes.InstanceRefreshStatus) astypes.InstanceRefresh {
		return astypes.InstanceRefresh{InstanceRefreshId: aws.String(id), Status: st, PercentageComplete: aws.Int32(40)}
	}
	cases := []struct {
		in   []astypes.InstanceRefresh
		want string // id, "" = none running
	}{
		{nil, ""},
		{[]astypes.InstanceRefresh{ref("r2", astypes.InstanceRefreshStatusSuccessful), ref("r1", astypes.InstanceRefreshStatusFailed)}, ""},
		{[]astypes.InstanceRefresh{ref("r3", astypes.InstanceRefreshStatusInProgress), ref("r2", astypes.InstanceRefreshStatusSuccessful)}, "r3"},
		{[]astypes.InstanceRefresh{ref("r4", astypes.InstanceRefreshStatusPending)}, "r4"},
		{[]astypes.InstanceRefresh{ref("r5", astypes.InstanceRefreshStatusRollbackInProgress)}, "r5"},
		{[]astypes.InstanceRefresh{ref("r6", astypes.InstanceRefreshStatusBaking)}, "r6"},
		{[]astypes.InstanceRefresh{ref("r7", astypes.InstanceRefreshStatusCancelling)}, "r7"},
	}
	for _, c := range cases {
		r, err := Fleet{ASG: &fakeASG{refreshes: c.in}, GroupName: "web"}.RunningRefresh(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if r != nil {
			got = r.ID
			if r.Percent != 40 {
				t.Errorf("percent %d", r.Percent)
			}
		}
		if got != c.want {
			t.Errorf("RunningRefresh(%d refreshes) = %q, want %q", len(c.in), got, c.want)
		}
	}
}
