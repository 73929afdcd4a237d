package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scaleapp/scaleapp/internal/localfleet"
)

// fakeAWS answers the three query-protocol calls the test makes, from a script indexed by the number
// of DescribeAutoScalingGroups calls so far (the last entry repeats).
type fakeAWS struct {
	mu      sync.Mutex
	polls   int
	script  []fleetStep
	actions []string
}

type fleetStep struct{ desired, inService, healthy int }

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	action := r.Form.Get("Action")
	f.actions = append(f.actions, action)
	i := max(f.polls-1, 0)
	if action == "DescribeAutoScalingGroups" {
		i = f.polls
		f.polls++
	}
	st := f.script[min(i, len(f.script)-1)]
	w.Header().Set("Content-Type", "text/xml")
	switch action {
	case "DescribeAutoScalingGroups":
		if got := r.Form.Get("AutoScalingGroupNames.member.1"); got != "web-asg" {
			http.Error(w, "unexpected group "+got, http.StatusBadRequest)
			return
		}
		var in strings.Builder
		for n := range st.inService + 1 { // one more, still Pending
			state := "InService"
			if n == st.inService {
				state = "Pending"
			}
			fmt.Fprintf(&in, "<member><InstanceId>i-%d</InstanceId><LifecycleState>%s</LifecycleState></member>", n, state)
		}
		fmt.Fprintf(w, `<DescribeAutoScalingGroupsResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">
<DescribeAutoScalingGroupsResult><AutoScalingGroups><member><AutoScalingGroupName>web-asg</AutoScalingGroupName>
<DesiredCapacity>%d</DesiredCapacity><Instances>%s</Instances></member></AutoScalingGroups></DescribeAutoScalingGroupsResult>
<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeAutoScalingGroupsResponse>`, st.desired, in.String())
	case "DescribeScalingActivities":
		acts := ""
		if st.desired > f.script[0].desired {
			acts = fmt.Sprintf(`<member><ActivityId>a-1</ActivityId><AutoScalingGroupName>web-asg</AutoScalingGroupName>
<Description>Launching a new EC2 instance: i-new</Description><Cause>alarm high-cpu</Cause>
<StartTime>%s</StartTime><StatusCode>InProgress</StatusCode></member>`, time.Now().UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(w, `<DescribeScalingActivitiesResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">
<DescribeScalingActivitiesResult><Activities>%s</Activities></DescribeScalingActivitiesResult>
<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeScalingActivitiesResponse>`, acts)
	case "DescribeTargetHealth":
		var th strings.Builder
		for n := range st.healthy {
			fmt.Fprintf(&th, "<member><Target><Id>i-%d</Id><Port>8080</Port></Target><TargetHealth><State>healthy</State></TargetHealth></member>", n)
		}
		fmt.Fprintf(w, `<DescribeTargetHealthResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
<DescribeTargetHealthResult><TargetHealthDescriptions>%s</TargetHealthDescriptions></DescribeTargetHealthResult>
<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeTargetHealthResponse>`, th.String())
	default:
		http.Error(w, "unexpected action "+action, http.StatusBadRequest)
	}
}

// TestRunEndToEnd runs the command as Jenkins does, with the real SDK talking to a local fake of the
// AWS APIs (AWS_ENDPOINT_URL) and the real HTTP side talking to three scaleapp processes behind a
// round-robin proxy.
func TestRunEndToEnd(t *testing.T) {
	bin := localfleet.BuildScaleapp(t)
	fleet := localfleet.Start(t, bin, 3, localfleet.Options{Env: []string{"STRESS_TOKEN=e2e-token"}})
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDLOCALTEST", "AWS_SECRET_ACCESS_KEY": "local-test-secret", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "eu-west-1", "AWS_PROFILE": "", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"STRESS_TOKEN": "e2e-token",
	} {
		t.Setenv(k, v)
	}

	cases := []struct {
		name     string
		script   []fleetStep
		timeout  string
		wantCode int
		want     []string
	}{
		{
			name:    "scale-out",
			script:  []fleetStep{{2, 2, 2}, {3, 2, 2}, {3, 3, 3}},
			timeout: "30s", wantCode: 0,
			want: []string{
				"stressing 2 instance(s) at 5% for 30 s", "2 stress job(s) started",
				"+   0s  desired 2  in-service 2  healthy 2  answering 3 [" + fleet.Instances[0].ID,
				"desired 3  in-service 2  healthy 2",
				"        activity: [InProgress] Launching a new EC2 instance: i-new",
				"desired 3  in-service 3  healthy 3",
				"PASS: scaled out from 2 to 3 instances in ", "traffic reached 3 instances", // seconds vary with load
				"stopped 2 stress job(s)",
			},
		},
		{
			name:    "no scale-out",
			script:  []fleetStep{{2, 2, 2}},
			timeout: "5s", wantCode: 1,
			want: []string{"desired 2  in-service 2  healthy 2", "FAIL: no scale-out within ", " s from desired capacity 2 (desired capacity never rose)",
				"stopped 2 stress job(s)"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			aws := &fakeAWS{script: c.script}
			srv := httptest.NewServer(aws)
			defer srv.Close()
			t.Setenv("AWS_ENDPOINT_URL", srv.URL)

			var out, errOut strings.Builder
			code := run(context.Background(), []string{"-url", fleet.URL, "-asg", "web-asg", "-target-group", "arn:aws:elasticloadbalancing:eu-west-1:000000000000:targetgroup/web/1",
				"-timeout", c.timeout, "-interval", "1s", "-samples", "6", "-load", "5", "-instances", "2"}, &out, &errOut)
			t.Logf("output:\n%s%s", out.String(), errOut.String())
			if code != c.wantCode {
				t.Fatalf("exit %d, want %d", code, c.wantCode)
			}
			rest := out.String()
			for _, w := range c.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q (in order)", w)
				}
				rest = rest[i+len(w):]
			}
			aws.mu.Lock()
			defer aws.mu.Unlock()
			if aws.polls < 2 || !strings.Contains(strings.Join(aws.actions, ","), "DescribeScalingActivities,DescribeTargetHealth") {
				t.Errorf("AWS calls %v", aws.actions)
			}
		})
	}
}
