package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scaleapp/scaleapp/internal/localfleet"
)

// sim is a fake of the AWS APIs the test calls (STS, Auto Scaling, ELBv2 target health; all query
// protocol), playing the group over a localfleet of real scaleapp processes behind a health-checking
// proxy (the ALB). Target health is read live from each registered instance's /health. script runs at
// every DescribeAutoScalingGroups call (0: the check before the run, 1: the first poll...) to move the
// group on; autoReplace plays what a group with ELB health checks does with an unhealthy target.
type sim struct {
	t     *testing.T
	fleet *localfleet.Fleet // nil for runs that must stop before touching an instance

	mu              sync.Mutex
	desired, max    int
	healthCheckType string
	members         []*member
	policies        string // DescribePolicies members, XML
	refreshes       []string
	activities      []activity // newest first, as AWS lists them
	calls           int        // DescribeAutoScalingGroups calls so far
	script          func(s *sim, call int)
	autoReplace     bool
	terminateCause  string // the cause of the replace-mode termination; default: a failed ELB health check
	hideUnhealthy   bool   // target health never says unhealthy
	noLaunch        bool   // the group terminates but never launches a replacement
	stsDenied       bool
	actions         []string
}

type member struct {
	in                  *localfleet.Instance
	id                  string
	lifecycle, health   string
	registered, drained bool
	sawUnhealthy        bool // DescribeTargetHealth reported it unhealthy
}

type activity struct {
	id, desc, cause, status string
	start                   time.Time // the poll prints new activities oldest first
}

const (
	policyXML = `<member><PolicyName>web-cpu-target</PolicyName><PolicyType>TargetTrackingScaling</PolicyType><Enabled>true</Enabled>
<Alarms><member><AlarmName>TargetTracking-web-asg-AlarmHigh-1f2e</AlarmName><AlarmARN>arn:aws:cloudwatch:eu-west-1:000000000000:alarm:TargetTracking-web-asg-AlarmHigh-1f2e</AlarmARN></member></Alarms></member>`
	policyCause = "At 2026-01-01T10:00:00Z a monitor alarm TargetTracking-web-asg-AlarmHigh-1f2e in state ALARM triggered policy web-cpu-target " +
		"changing the desired capacity from 2 to 3. At 2026-01-01T10:00:10Z an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 2 to 3."
	userCause = "At 2026-01-01T10:00:00Z a user request update of AutoScalingGroup constraints to min: 1, max: 4, desired: 3 changing the desired capacity from 2 to 3. " +
		"At 2026-01-01T10:00:10Z an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 2 to 3."
	elbCause    = "At 2026-01-01T10:05:00Z an instance was taken out of service in response to an ELB system health check failure."
	refillCause = "At 2026-01-01T10:05:30Z an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 2 to 3."
)

func newSim(t *testing.T, fleet *localfleet.Fleet) *sim {
	s := &sim{t: t, fleet: fleet, max: 4, healthCheckType: "ELB", policies: policyXML,
		// History: an earlier policy launch, before the test. It must not count for this run.
		activities: []activity{{id: "a-old", desc: "Launching a new EC2 instance: i-0old", cause: policyCause, status: "Successful", start: time.Now().Add(-time.Hour)}}}
	if fleet != nil {
		for _, in := range fleet.Instances {
			s.members = append(s.members, &member{in: in, id: in.ID, lifecycle: "InService", health: "Healthy", registered: true})
		}
	} else {
		s.members = []*member{{id: "i-0a", lifecycle: "InService", health: "Healthy"}, {id: "i-0b", lifecycle: "InService", health: "Healthy"}}
	}
	s.desired = len(s.members)
	return s
}

// launch starts a real instance for the group (Pending, not yet a target) with a launch activity.
func (s *sim) launch(cause string) *member {
	in := s.fleet.Launch()
	m := &member{in: in, id: in.ID, lifecycle: "Pending", health: "Healthy"}
	s.members = append(s.members, m)
	s.activities = append([]activity{{id: "a-" + in.ID, desc: "Launching a new EC2 instance: " + in.ID, cause: cause, status: "InProgress", start: time.Now()}}, s.activities...)
	return m
}

// inService completes a launch; register makes it a target of the load balancer too.
func (s *sim) inService(m *member, register bool) {
	m.lifecycle = "InService"
	if register && !m.registered {
		m.registered = true
		s.fleet.Register(m.in)
	}
}

func (s *sim) pending() *member {
	for _, m := range s.members {
		if m.lifecycle == "Pending" {
			return m
		}
	}
	return nil
}

// replaceUnhealthy is the group's ELB health check: a member whose target was reported unhealthy is
// terminated (drained, then stopped) and a replacement launched; the next call brings it in service.
func (s *sim) replaceUnhealthy() {
	if p := s.pending(); p != nil && s.autoReplace {
		s.inService(p, true)
	}
	s.members = slices.DeleteFunc(s.members, func(m *member) bool { return m.lifecycle == "Terminating" && m.drained })
	for _, m := range s.members {
		if m.lifecycle == "Terminating" {
			m.drained = true
		}
		if m.lifecycle != "InService" || !m.sawUnhealthy {
			continue
		}
		cause := s.terminateCause
		if cause == "" {
			cause = elbCause
		}
		m.lifecycle, m.health = "Terminating", "Unhealthy"
		s.activities = append([]activity{{id: "a-term-" + m.id, desc: "Terminating EC2 instance: " + m.id, cause: cause, status: "InProgress", start: time.Now()}}, s.activities...)
		m.registered = false
		s.fleet.Deregister(m.in)
		m.in.Stop()
		if !s.noLaunch {
			s.launch(refillCause)
		}
		return
	}
}

func (s *sim) targetState(m *member) string {
	switch {
	case m.lifecycle == "Terminating":
		return "draining"
	case !m.registered:
		return ""
	case m.in == nil || s.hideUnhealthy:
		return "healthy"
	}
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get(m.in.URL + "/health")
	if err != nil {
		return "unhealthy"
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "unhealthy"
	}
	return "healthy"
}

func (s *sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	action := r.Form.Get("Action")
	s.actions = append(s.actions, action)
	w.Header().Set("Content-Type", "text/xml")
	var body strings.Builder
	switch action {
	case "GetCallerIdentity":
		if s.stsDenied {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error><RequestId>r</RequestId></ErrorResponse>`)
			return
		}
		respond(w, "sts", action, `<Arn>arn:aws:iam::000000000000:user/jenkins</Arn><UserId>AIDLOCAL</UserId><Account>000000000000</Account>`)
	case "DescribeInstanceRefreshes":
		if len(s.refreshes) > 0 {
			st := s.refreshes[0]
			if len(s.refreshes) > 1 {
				s.refreshes = s.refreshes[1:]
			}
			fmt.Fprintf(&body, `<member><InstanceRefreshId>r-1</InstanceRefreshId><AutoScalingGroupName>web-asg</AutoScalingGroupName><Status>%s</Status><PercentageComplete>50</PercentageComplete></member>`, st)
		}
		respond(w, "autoscaling", action, "<InstanceRefreshes>"+body.String()+"</InstanceRefreshes>")
	case "DescribePolicies":
		respond(w, "autoscaling", action, "<ScalingPolicies>"+s.policies+"</ScalingPolicies>")
	case "DescribeAutoScalingGroups":
		if got := r.Form.Get("AutoScalingGroupNames.member.1"); got != "web-asg" {
			http.Error(w, "unexpected group "+got, http.StatusBadRequest)
			return
		}
		if s.script != nil {
			s.script(s, s.calls)
		}
		if s.autoReplace {
			s.replaceUnhealthy()
		}
		s.calls++
		for _, m := range s.members {
			fmt.Fprintf(&body, "<member><InstanceId>%s</InstanceId><LifecycleState>%s</LifecycleState><HealthStatus>%s</HealthStatus></member>", m.id, m.lifecycle, m.health)
		}
		respond(w, "autoscaling", action, fmt.Sprintf(`<AutoScalingGroups><member><AutoScalingGroupName>web-asg</AutoScalingGroupName>
<DesiredCapacity>%d</DesiredCapacity><MinSize>1</MinSize><MaxSize>%d</MaxSize><HealthCheckType>%s</HealthCheckType><Instances>%s</Instances></member></AutoScalingGroups>`,
			s.desired, s.max, s.healthCheckType, body.String()))
	case "DescribeScalingActivities":
		for _, a := range s.activities {
			fmt.Fprintf(&body, `<member><ActivityId>%s</ActivityId><AutoScalingGroupName>web-asg</AutoScalingGroupName><Description>%s</Description>
<Cause>%s</Cause><StartTime>%s</StartTime><StatusCode>%s</StatusCode></member>`, a.id, a.desc, a.cause, a.start.UTC().Format(time.RFC3339Nano), a.status)
		}
		respond(w, "autoscaling", action, "<Activities>"+body.String()+"</Activities>")
	case "DescribeTargetHealth":
		for _, m := range s.members {
			st := s.targetState(m)
			if st == "" {
				continue
			}
			m.sawUnhealthy = m.sawUnhealthy || st == "unhealthy"
			fmt.Fprintf(&body, "<member><Target><Id>%s</Id><Port>8080</Port></Target><TargetHealth><State>%s</State></TargetHealth></member>", m.id, st)
		}
		respond(w, "elb", action, "<TargetHealthDescriptions>"+body.String()+"</TargetHealthDescriptions>")
	default:
		http.Error(w, "unexpected action "+action, http.StatusBadRequest)
	}
}

func respond(w http.ResponseWriter, service, action, result string) {
	ns := map[string]string{"sts": "https://sts.amazonaws.com/doc/2011-06-15/", "autoscaling": "http://autoscaling.amazonaws.com/doc/2011-01-01/",
		"elb": "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"}[service]
	fmt.Fprintf(w, `<%sResponse xmlns="%s"><%sResult>%s</%sResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></%sResponse>`,
		action, ns, action, result, action, action)
}

// TestRunEndToEnd runs the command as Jenkins does, the real SDK talking to the simulator
// (AWS_ENDPOINT_URL) and the HTTP side to real scaleapp processes behind the health-checking proxy.
// Each verdict rule and each check before the run has a case that breaks exactly that rule.
func TestRunEndToEnd(t *testing.T) {
	bin := localfleet.BuildScaleapp(t)
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDLOCALTEST", "AWS_SECRET_ACCESS_KEY": "local-test-secret", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "eu-west-1", "AWS_PROFILE": "", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"STRESS_TOKEN": "e2e-token",
	} {
		t.Setenv(k, v)
	}
	// The group's scale-out: desired up with a launch at call 2; at call 3 the new instance becomes a
	// target of the ALB (register) and InService in the group (comesInService: a lifecycle hook can hold
	// it in Pending while the ALB already sends it traffic).
	scaleOut := func(cause string, comesInService, register bool) func(*sim, int) {
		return func(s *sim, call int) {
			switch call {
			case 2:
				s.desired++
				s.launch(cause)
			case 3:
				m := s.pending()
				if register {
					m.registered = true
					s.fleet.Register(m.in)
				}
				if comesInService {
					m.lifecycle = "InService"
				}
			}
		}
	}
	cases := []struct {
		name      string
		mode      string
		instances int // real instances; 0: none (the run must stop before touching one)
		setup     func(*sim)
		timeout   string
		wantCode  int
		want      []string // in order, in stdout then stderr
		check     func(t *testing.T, s *sim, out string)
	}{
		{
			name: "scale-out: PASS after waiting out an instance refresh", mode: "scale-out", instances: 2, timeout: "30s",
			setup: func(s *sim) {
				s.refreshes = []string{"InProgress", "InProgress", "Successful"}
				s.script = scaleOut(policyCause, true, true)
			},
			wantCode: 0,
			want: []string{
				"check: credentials of arn:aws:iam::000000000000:user/jenkins",
				"check: instance refresh r-1 InProgress (50% done): waiting for it to end",
				"check: no instance refresh in progress",
				"check: group web-asg: desired 2 (min 1, max 4), 2 in service, health check type ELB",
				"check: headroom 2 instance(s); scale-out policies: web-cpu-target (TargetTrackingScaling)",
				"stressing 2 instance(s) at 5% for 30 s", "2 stress job(s) started",
				"+   0s  desired 2  in-service 2  healthy 2  answering 2",
				"desired 3  in-service 2  healthy 2",
				"activity: [InProgress] Launching a new EC2 instance: i-0local0000000003",
				"cause: At 2026-01-01T10:00:00Z a monitor alarm TargetTracking-web-asg-AlarmHigh-1f2e in state ALARM triggered policy web-cpu-target",
				"desired 3  in-service 3  healthy 3",
				"stopped 2 stress job(s)",
				"PASS: scaled out from 2 to 3 instances: launch caused by this stack's scaling after ",
				"new instance [i-0local0000000003] answering through the ALB",
				"scale-in not awaited",
			},
		},
		{
			name: "scale-out rule: the launch must be caused by this stack's policy or alarm", mode: "scale-out", instances: 2, timeout: "5s",
			setup:    func(s *sim) { s.script = scaleOut(userCause, true, true) },
			wantCode: 1,
			want: []string{"cause: At 2026-01-01T10:00:00Z a user request", "FAIL: no proven scale-out within ",
				"no launch activity whose cause names this stack's policies or alarms (web-cpu-target, TargetTracking-web-asg-AlarmHigh-1f2e); desired capacity rose after "},
		},
		{
			name: "scale-out rule: desired and in-service must both rise", mode: "scale-out", instances: 2, timeout: "5s",
			setup:    func(s *sim) { s.script = scaleOut(policyCause, false, true) },
			wantCode: 1,
			want: []string{"desired 3  in-service 2  healthy 3  answering 3", "FAIL: no proven scale-out within ",
				"desired capacity rose after ", " s but in-service never went above 2; traffic reached 3 instances"},
		},
		{
			name: "scale-out rule: an instance launched after the stress must answer", mode: "scale-out", instances: 2, timeout: "5s",
			setup:    func(s *sim) { s.script = scaleOut(policyCause, true, false) },
			wantCode: 1,
			want: []string{"desired 3  in-service 3  healthy 2", "FAIL: no proven scale-out within ",
				"none of the instances launched after the stress began [i-0local0000000003] answered through the ALB"},
		},
		{
			name: "check: credentials", mode: "scale-out", timeout: "5s", setup: func(s *sim) { s.stsDenied = true },
			wantCode: 2, want: []string{"AWS credentials do not work (sts GetCallerIdentity)", "InvalidClientTokenId"},
		},
		{
			name: "check: max-size headroom", mode: "scale-out", timeout: "5s", setup: func(s *sim) { s.max = 2 },
			wantCode: 2, want: []string{"group web-asg has no headroom: desired 2, max 2"},
		},
		{
			name: "check: a policy that scales out", mode: "scale-out", timeout: "5s",
			setup: func(s *sim) {
				s.policies = strings.Replace(policyXML, "<Enabled>true</Enabled>", "<Enabled>false</Enabled>", 1)
			},
			wantCode: 2, want: []string{"group web-asg has no enabled scaling policy that adds instances (found 1 policies)"},
		},
		{
			name: "check: an instance refresh that does not end in time", mode: "scale-out", timeout: "5s",
			setup:    func(s *sim) { s.refreshes = []string{"InProgress"} },
			wantCode: 2, want: []string{"instance refresh r-1 still InProgress (50%) after ", "raise -refresh-wait"},
		},
		{
			name: "replace: PASS following the instance that took the failure", mode: "replace", instances: 3, timeout: "30s",
			setup:    func(s *sim) { s.autoReplace = true },
			wantCode: 0,
			want: []string{
				"check: group web-asg: desired 3 (min 1, max 4), 3 in service, health check type ELB",
				"answers /health with 503 UNHEALTHY for 30 s (POST /health/fail through the ALB); following it",
				"InService/Healthy, target unhealthy",
				"Terminating/Unhealthy, target draining",
				"activity: [InProgress] Terminating EC2 instance: ", "cause: " + elbCause,
				"activity: [InProgress] Launching a new EC2 instance: i-0local0000000004",
				"PASS: ", " replaced: target unhealthy after ", "terminated for failing ELB health checks after ",
				"replacement i-0local0000000004 in service after ", "traffic answered throughout",
			},
			check: func(t *testing.T, s *sim, out string) {
				// The followed id is the instance whose /health really was failed.
				for _, in := range s.fleet.Instances[:3] {
					if strings.Contains(out, in.ID+" answers /health with 503") != strings.Contains(out, "Terminating EC2 instance: "+in.ID) {
						t.Errorf("followed an instance other than the terminated one %s", in.ID)
					}
				}
			},
		},
		{
			name: "replace rule: the target must turn unhealthy", mode: "replace", instances: 3, timeout: "5s",
			setup:    func(s *sim) { s.autoReplace, s.hideUnhealthy = true, true },
			wantCode: 1, want: []string{"FAIL: ", "its target never showed unhealthy"},
		},
		{
			name: "replace rule: terminated for failing ELB health checks", mode: "replace", instances: 3, timeout: "5s",
			setup: func(s *sim) {
				s.autoReplace = true
				s.terminateCause = "At 2026-01-01T10:05:00Z a user request explicitly set group desired capacity changing the desired capacity from 3 to 2."
			},
			wantCode: 1, want: []string{"FAIL: ", "no activity terminated it for failing an ELB health check"},
		},
		{
			name: "replace rule: a new instance in service and healthy", mode: "replace", instances: 3, timeout: "5s",
			setup:    func(s *sim) { s.autoReplace, s.noLaunch = true, true },
			wantCode: 1, want: []string{"FAIL: ", "no new instance came in service"},
		},
		{
			name: "replace rule: traffic keeps being answered", mode: "replace", instances: 2, timeout: "10s",
			setup: func(s *sim) {
				s.autoReplace = true
				// At the first poll the instance that did not take the failure crashes, still registered.
				s.script = func(s *sim, call int) {
					if call != 1 {
						return
					}
					for _, m := range s.members {
						if resp, err := http.Get(m.in.URL + "/health"); err == nil {
							resp.Body.Close()
							if resp.StatusCode == http.StatusOK {
								m.in.Stop()
								return
							}
						}
					}
				}
			},
			wantCode: 1, want: []string{"FAIL: ", "traffic was not answered throughout"},
		},
		{
			name: "check: replace needs ELB health checks", mode: "replace", timeout: "5s", setup: func(s *sim) { s.healthCheckType = "EC2" },
			wantCode: 2, want: []string{`group web-asg uses "EC2" health checks`},
		},
		{
			name: "check: replace needs a second instance", mode: "replace", timeout: "5s",
			setup:    func(s *sim) { s.members = s.members[:1]; s.desired = 1 },
			wantCode: 2, want: []string{"group web-asg has 1 instance in service: the replace test needs 2 or more"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			url := "http://127.0.0.1:9" // discard: a run that stops at its checks never sends a request
			var fleet *localfleet.Fleet
			if c.instances > 0 {
				fleet = localfleet.Start(t, bin, c.instances, localfleet.Options{Env: []string{"STRESS_TOKEN=e2e-token"}, HealthCheck: 200 * time.Millisecond})
				url = fleet.URL
			}
			s := newSim(t, fleet)
			if c.setup != nil {
				c.setup(s)
			}
			srv := httptest.NewServer(s)
			defer srv.Close()
			t.Setenv("AWS_ENDPOINT_URL", srv.URL)

			var stdout, stderr strings.Builder
			code := run(context.Background(), []string{"-mode", c.mode, "-url", url, "-asg", "web-asg",
				"-target-group", "arn:aws:elasticloadbalancing:eu-west-1:000000000000:targetgroup/web/1",
				"-timeout", c.timeout, "-interval", "1s", "-refresh-wait", "2s", "-samples", "6", "-load", "5"}, &stdout, &stderr)
			out := stdout.String() + stderr.String()
			t.Logf("output:\n%s", out)
			if code != c.wantCode {
				t.Fatalf("exit %d, want %d", code, c.wantCode)
			}
			rest := out
			for _, w := range c.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q (in order)", w)
				}
				rest = rest[i+len(w):]
			}
			if c.check != nil {
				c.check(t, s, out)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if c.wantCode == 2 && slices.Contains(s.actions, "DescribeScalingActivities") {
				t.Errorf("a run that failed its checks polled: %v", s.actions)
			}
		})
	}
}
