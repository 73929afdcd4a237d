package timeline

import (
	"errors"
	"testing"
	"time"
)

func s(sec, desired, inService, healthy int, ids ...string) Sample {
	return Sample{Elapsed: time.Duration(sec) * time.Second, Desired: desired, InService: inService, Healthy: healthy, Answering: ids}
}

func failed(sec int, why string, ids ...string) Sample {
	return Sample{Elapsed: time.Duration(sec) * time.Second, Err: why, Answering: ids}
}

func TestLine(t *testing.T) {
	withActs := s(90, 3, 2, 2, "i-a")
	withActs.Activities = []Activity{{Status: "InProgress", Description: "Launching a new EC2 instance: i-c", Cause: "At T a monitor alarm A triggered policy P"},
		{Status: "Successful", Description: "Terminating EC2 instance: i-d"}}
	watched := s(40, 2, 2, 1, "i-a")
	watched.Instances = []Instance{{ID: "i-a", Lifecycle: "InService", Health: "Healthy", Target: "healthy"},
		{ID: "i-b", Lifecycle: "InService", Health: "Healthy", Target: "unhealthy"}}
	watched.Watch = "i-b"
	gone := s(200, 2, 2, 2, "i-a", "i-c")
	gone.Watch = "i-b"
	unregistered := s(10, 2, 2, 1)
	unregistered.Instances = []Instance{{ID: "i-b", Lifecycle: "Pending", Health: "Healthy"}}
	unregistered.Watch = "i-b"
	cases := []struct {
		name string
		in   Sample
		want string
	}{
		{"counts and ids sorted and deduplicated", s(35, 2, 2, 2, "i-b", "i-a", "i-b"),
			"+  35s  desired 2  in-service 2  healthy 2  answering 2 [i-a i-b]"},
		{"nobody answering", s(0, 2, 1, 0), "+   0s  desired 2  in-service 1  healthy 0  answering 0"},
		{"elapsed rounds to the second", Sample{Elapsed: 1499 * time.Millisecond, Desired: 1, InService: 1, Healthy: 1},
			"+   1s  desired 1  in-service 1  healthy 1  answering 0"},
		{"activities and their causes on their own lines", withActs,
			"+  90s  desired 3  in-service 2  healthy 2  answering 1 [i-a]\n" +
				"        activity: [InProgress] Launching a new EC2 instance: i-c\n" +
				"          cause: At T a monitor alarm A triggered policy P\n" +
				"        activity: [Successful] Terminating EC2 instance: i-d"},
		{"probe error shown after the ids that answered",
			Sample{Elapsed: 20 * time.Second, Desired: 2, InService: 2, Healthy: 1, Answering: []string{"i-a"}, ProbeErr: "GET /: 502 Bad Gateway"},
			"+  20s  desired 2  in-service 2  healthy 1  answering 1 [i-a] (probe: GET /: 502 Bad Gateway)"},
		{"failed poll keeps the ALB side", failed(15, "DescribeAutoScalingGroups: throttled", "i-a"),
			"+  15s  poll failed: DescribeAutoScalingGroups: throttled  answering 1 [i-a]"},
		{"a followed instance's state", watched,
			"+  40s  desired 2  in-service 2  healthy 1  answering 1 [i-a]\n        i-b: InService/Healthy, target unhealthy"},
		{"a followed instance that left", gone,
			"+ 200s  desired 2  in-service 2  healthy 2  answering 2 [i-a i-c]\n        i-b: gone from the group"},
		{"a followed instance not yet a target", unregistered,
			"+  10s  desired 2  in-service 2  healthy 1  answering 0\n        i-b: Pending/Healthy, target not registered"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.in.Line(); got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

// launch is a launch activity with a cause.
func launch(id, cause string) Activity {
	return Activity{Status: "InProgress", Description: "Launching a new EC2 instance: " + id, Cause: cause}
}

func with(smp Sample, acts ...Activity) Sample { smp.Activities = acts; return smp }

const (
	byPolicy = "At 2026-01-01T10:00:00Z a monitor alarm TargetTracking-web-AlarmHigh-1 in state ALARM triggered policy web-cpu-target changing the desired capacity from 2 to 3."
	byAlarm  = "At 2026-01-01T10:00:00Z a monitor alarm web-cpu-high in state ALARM triggered policy web-cpu-step-out changing the desired capacity from 2 to 3."
	byUser   = "At 2026-01-01T10:00:00Z a user request explicitly set group desired capacity changing the desired capacity from 2 to 3."
)

var causes = []string{"web-cpu-target", "TargetTracking-web-AlarmHigh-1"}

// Each rule of the scale-out verdict has a case that breaks only that rule.
func TestJudgeScaleOut(t *testing.T) {
	cases := []struct {
		name    string
		in      []Sample
		causes  []string
		passed  bool
		verdict string
	}{
		{
			name: "PASS: caused by the policy, capacity up, the new instance answering",
			in: []Sample{s(0, 2, 2, 2, "i-a", "i-b"), with(s(60, 3, 2, 2, "i-a"), launch("i-c", byPolicy)),
				s(120, 3, 3, 2, "i-b"), s(180, 3, 3, 3, "i-c", "i-a")},
			causes: causes, passed: true,
			verdict: "PASS: scaled out from 2 to 3 instances: launch caused by this stack's scaling after 60 s, desired and in-service above 2 " +
				"after 120 s, new instance [i-c] answering through the ALB after 180 s; traffic reached 3 instances [i-a i-b i-c]",
		},
		{
			name:   "PASS: an alarm's name in the cause is enough",
			in:     []Sample{s(0, 1, 1, 1, "i-a"), with(s(30, 2, 2, 2, "i-b"), launch("i-b", byAlarm))},
			causes: []string{"web-cpu-step-out-other", "web-cpu-high"}, passed: true,
			verdict: "PASS: scaled out from 1 to 2 instances: launch caused by this stack's scaling after 30 s, desired and in-service above 1 " +
				"after 30 s, new instance [i-b] answering through the ALB after 30 s; traffic reached 2 instances [i-a i-b]",
		},
		{
			name:   "rule cause: a user request (set-desired-capacity) is not this stack's scaling",
			in:     []Sample{s(0, 2, 2, 2, "i-a"), with(s(60, 3, 3, 3, "i-c"), launch("i-c", byUser))},
			causes: causes,
			verdict: "FAIL: no proven scale-out within 60 s from desired capacity 2: no launch activity whose cause names this stack's " +
				"policies or alarms (web-cpu-target, TargetTracking-web-AlarmHigh-1); desired capacity rose after 60 s by something else; " +
				"traffic reached 2 instances [i-a i-c]",
		},
		{
			name:   "rule cause: a name must match whole, not as a prefix of another policy",
			in:     []Sample{s(0, 2, 2, 2, "i-a"), with(s(60, 3, 3, 3, "i-c"), launch("i-c", byPolicy))},
			causes: []string{"web-cpu"},
			verdict: "FAIL: no proven scale-out within 60 s from desired capacity 2: no launch activity whose cause names this stack's " +
				"policies or alarms (web-cpu); desired capacity rose after 60 s by something else; traffic reached 2 instances [i-a i-c]",
		},
		{
			name: "rule cause: a policy's scale-in (a Terminating activity) is not a scale-out's cause",
			in: []Sample{s(0, 2, 2, 2, "i-a"), with(s(60, 3, 3, 3, "i-c"), launch("i-c", byUser),
				Activity{Status: "Successful", Description: "Terminating EC2 instance: i-z", Cause: byPolicy})},
			causes: causes,
			verdict: "FAIL: no proven scale-out within 60 s from desired capacity 2: no launch activity whose cause names this stack's " +
				"policies or alarms (web-cpu-target, TargetTracking-web-AlarmHigh-1); desired capacity rose after 60 s by something else; " +
				"traffic reached 2 instances [i-a i-c]",
		},
		{
			name:   "rule capacity: desired rose but in-service never did",
			in:     []Sample{s(0, 2, 2, 2, "i-a"), with(s(60, 3, 2, 2, "i-a"), launch("i-c", byPolicy)), s(120, 3, 2, 2, "i-a")},
			causes: causes,
			verdict: "FAIL: no proven scale-out within 120 s from desired capacity 2: desired capacity rose after 60 s but in-service never " +
				"went above 2; none of the instances launched after the stress began [i-c] answered through the ALB; traffic reached 1 instance [i-a]",
		},
		{
			name: "rule capacity: an instance refresh adds an instance without raising desired capacity",
			in: []Sample{s(0, 2, 2, 2, "i-a", "i-b"), with(s(60, 2, 3, 3, "i-a", "i-c"), launch("i-c", byPolicy)),
				s(120, 2, 2, 2, "i-c")},
			causes: causes,
			verdict: "FAIL: no proven scale-out within 120 s from desired capacity 2: desired capacity and in-service never both above 2; " +
				"traffic reached 3 instances [i-a i-b i-c]",
		},
		{
			name:   "rule capacity: the baseline is the first good poll; instances launching then are not a scale-out",
			in:     []Sample{failed(0, "throttled", "i-a"), s(15, 2, 1, 1, "i-a"), s(30, 2, 2, 2, "i-a", "i-b")},
			causes: causes,
			verdict: "FAIL: no proven scale-out within 30 s from desired capacity 2: no launch activity whose cause names this stack's " +
				"policies or alarms (web-cpu-target, TargetTracking-web-AlarmHigh-1); desired capacity and in-service never both above 2; " +
				"no instance launched after the stress began answered through the ALB; traffic reached 2 instances [i-a i-b]",
		},
		{
			name: "rule traffic: only instances launched after the stress began count, not old ones",
			in: []Sample{s(0, 2, 2, 2, "i-a", "i-b"), with(s(60, 3, 2, 2, "i-a"), launch("i-c", byPolicy)),
				s(120, 3, 3, 3, "i-a", "i-b")},
			causes: causes,
			verdict: "FAIL: no proven scale-out within 120 s from desired capacity 2: none of the instances launched after the stress began " +
				"[i-c] answered through the ALB; traffic reached 2 instances [i-a i-b]",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := JudgeScaleOut(c.in, c.causes)
			if err != nil {
				t.Fatal(err)
			}
			if got.Passed() != c.passed || got.Done() != c.passed {
				t.Errorf("Passed() = %v, Done() = %v, want %v", got.Passed(), got.Done(), c.passed)
			}
			if got.String() != c.verdict {
				t.Errorf("String()\n got %s\nwant %s", got.String(), c.verdict)
			}
		})
	}
}

func TestJudgeWithoutData(t *testing.T) {
	for _, in := range [][]Sample{nil, {failed(0, "no credentials"), failed(15, "no credentials")}} {
		if _, err := JudgeScaleOut(in, causes); !errors.Is(err, ErrNoData) {
			t.Errorf("JudgeScaleOut(%d failed polls) error = %v, want ErrNoData", len(in), err)
		}
		if _, err := JudgeReplace(in, "i-a", 0); !errors.Is(err, ErrNoData) {
			t.Errorf("JudgeReplace(%d failed polls) error = %v, want ErrNoData", len(in), err)
		}
	}
}

const elbCause = "At 2026-01-01T10:05:00Z an instance was taken out of service in response to an ELB system health check failure."

// fleet is a replace-mode sample: the members as "id lifecycle target" triples.
func fleet(sec int, answering []string, failedReqs int, members ...[3]string) Sample {
	smp := Sample{Elapsed: time.Duration(sec) * time.Second, Answering: answering, Failed: failedReqs, Watch: "i-a"}
	for _, m := range members {
		smp.Instances = append(smp.Instances, Instance{ID: m[0], Lifecycle: m[1], Health: "Healthy", Target: m[2]})
		if m[1] == "InService" {
			smp.InService++
			smp.Desired++
		}
	}
	return smp
}

func terminate(id, cause string) Activity {
	return Activity{Status: "InProgress", Description: "Terminating EC2 instance: " + id, Cause: cause}
}

// Each rule of the replace verdict has a case that breaks only that rule.
func TestJudgeReplace(t *testing.T) {
	ab := []string{"i-b"}
	good := func(term Activity, lastTarget string, traffic ...int) []Sample {
		f := append(traffic, 0, 0, 0, 0, 0)
		return []Sample{
			fleet(0, []string{"i-a", "i-b"}, f[0], [3]string{"i-a", "InService", "healthy"}, [3]string{"i-b", "InService", "healthy"}),
			fleet(15, ab, f[1], [3]string{"i-a", "InService", "unhealthy"}, [3]string{"i-b", "InService", "healthy"}),
			with(fleet(45, ab, f[2], [3]string{"i-a", "Terminating", "draining"}, [3]string{"i-b", "InService", "healthy"}), term),
			fleet(90, ab, f[3], [3]string{"i-b", "InService", "healthy"}, [3]string{"i-c", "InService", "initial"}),
			fleet(120, []string{"i-b", "i-c"}, f[4], [3]string{"i-b", "InService", "healthy"}, [3]string{"i-c", "InService", lastTarget}),
		}
	}
	cases := []struct {
		name      string
		in        []Sample
		maxFailed int
		passed    bool
		done      bool
		verdict   string
	}{
		{
			name: "PASS: unhealthy, terminated for the ELB health check, replaced, traffic answered",
			in:   good(terminate("i-a", elbCause), "healthy"), passed: true, done: true,
			verdict: "PASS: i-a replaced: target unhealthy after 15 s, terminated for failing ELB health checks after 45 s, replacement i-c " +
				"in service after 90 s and healthy after 120 s; traffic answered throughout (5 polls, 0 without any answer, 0 failed requests (at most 0 allowed))",
		},
		{
			name: "PASS: failed requests within the allowance",
			in:   good(terminate("i-a", elbCause), "healthy", 0, 2), maxFailed: 2, passed: true, done: true,
			verdict: "PASS: i-a replaced: target unhealthy after 15 s, terminated for failing ELB health checks after 45 s, replacement i-c " +
				"in service after 90 s and healthy after 120 s; traffic answered throughout (5 polls, 0 without any answer, 2 failed requests (at most 2 allowed))",
		},
		{
			name: "rule unhealthy: the target never showed unhealthy",
			in: func() []Sample {
				in := good(terminate("i-a", elbCause), "healthy")
				in[1].Instances[0].Target = "healthy"
				return in
			}(),
			verdict: "FAIL: i-a not proven replaced within 120 s: its target never showed unhealthy (5 polls, 0 without any answer, 0 failed requests (at most 0 allowed))",
		},
		{
			name: "rule terminated: by a person, not the health check",
			in:   good(terminate("i-a", "At T a user request explicitly set group desired capacity changing the desired capacity from 2 to 1."), "healthy"),
			verdict: "FAIL: i-a not proven replaced within 120 s: no activity terminated it for failing an ELB health check " +
				"(5 polls, 0 without any answer, 0 failed requests (at most 0 allowed))",
		},
		{
			name: "rule terminated: another instance's termination does not count",
			in:   good(terminate("i-b", elbCause), "healthy"),
			verdict: "FAIL: i-a not proven replaced within 120 s: no activity terminated it for failing an ELB health check " +
				"(5 polls, 0 without any answer, 0 failed requests (at most 0 allowed))",
		},
		{
			name: "rule replaced: the replacement's target never healthy",
			in:   good(terminate("i-a", elbCause), "initial"),
			verdict: "FAIL: i-a not proven replaced within 120 s: replacement i-c in service after 90 s but its target never healthy " +
				"(5 polls, 0 without any answer, 0 failed requests (at most 0 allowed))",
		},
		{
			name: "rule replaced: no new instance",
			in:   good(terminate("i-a", elbCause), "healthy")[:3],
			verdict: "FAIL: i-a not proven replaced within 45 s: no new instance came in service " +
				"(3 polls, 0 without any answer, 0 failed requests (at most 0 allowed))",
		},
		{
			name: "rule traffic: failed requests beyond the allowance",
			in:   good(terminate("i-a", elbCause), "healthy", 0, 0, 3), maxFailed: 2, done: true,
			verdict: "FAIL: i-a not proven replaced within 120 s: traffic was not answered throughout " +
				"(5 polls, 0 without any answer, 3 failed requests (at most 2 allowed))",
		},
		{
			name: "rule traffic: a poll nobody answered",
			in: func() []Sample {
				in := good(terminate("i-a", elbCause), "healthy")
				in[3].Answering = nil
				return in
			}(),
			done: true,
			verdict: "FAIL: i-a not proven replaced within 120 s: traffic was not answered throughout " +
				"(5 polls, 1 without any answer, 0 failed requests (at most 0 allowed))",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := JudgeReplace(c.in, "i-a", c.maxFailed)
			if err != nil {
				t.Fatal(err)
			}
			if got.Passed() != c.passed || got.Done() != c.done {
				t.Errorf("Passed() = %v, Done() = %v, want %v, %v", got.Passed(), got.Done(), c.passed, c.done)
			}
			if got.String() != c.verdict {
				t.Errorf("String()\n got %s\nwant %s", got.String(), c.verdict)
			}
		})
	}
}
