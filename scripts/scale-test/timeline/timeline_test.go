package timeline

import (
	"errors"
	"slices"
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
		{"activities on their own lines",
			Sample{Elapsed: 90 * time.Second, Desired: 3, InService: 2, Healthy: 2, Answering: []string{"i-a"},
				Activities: []string{"Launching a new EC2 instance: i-c", "Terminating EC2 instance: i-d"}},
			"+  90s  desired 3  in-service 2  healthy 2  answering 1 [i-a]\n" +
				"        activity: Launching a new EC2 instance: i-c\n" +
				"        activity: Terminating EC2 instance: i-d"},
		{"probe error shown after the ids that answered",
			Sample{Elapsed: 20 * time.Second, Desired: 2, InService: 2, Healthy: 1, Answering: []string{"i-a"}, ProbeErr: "GET /: 502 Bad Gateway"},
			"+  20s  desired 2  in-service 2  healthy 1  answering 1 [i-a] (probe: GET /: 502 Bad Gateway)"},
		{"failed poll keeps the ALB side", failed(15, "DescribeAutoScalingGroups: throttled", "i-a"),
			"+  15s  poll failed: DescribeAutoScalingGroups: throttled  answering 1 [i-a]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.in.Line(); got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

func TestJudge(t *testing.T) {
	cases := []struct {
		name    string
		in      []Sample
		want    Verdict
		done    bool
		verdict string
	}{
		{
			name: "scale-out from 2 to 3 reaching the new instance",
			in:   []Sample{s(0, 2, 2, 2, "i-a", "i-b"), s(60, 3, 2, 2, "i-a"), s(120, 3, 3, 2, "i-b"), s(180, 3, 3, 3, "i-c", "i-a")},
			want: Verdict{ScaledOut: true, From: 2, To: 3, After: 120 * time.Second, DesiredRaised: true,
				DesiredAfter: 60 * time.Second, Reached: []string{"i-a", "i-b", "i-c"}, Last: 180 * time.Second},
			done:    true,
			verdict: "PASS: scaled out from 2 to 3 instances in 120 s (desired raised after 60 s); traffic reached 3 instances [i-a i-b i-c]",
		},
		{
			name: "scaled out but the new instance has not answered yet",
			in:   []Sample{s(0, 1, 1, 1, "i-a"), s(30, 2, 2, 1, "i-a")},
			want: Verdict{ScaledOut: true, From: 1, To: 2, After: 30 * time.Second, DesiredRaised: true,
				DesiredAfter: 30 * time.Second, Reached: []string{"i-a"}, Last: 30 * time.Second},
			done:    false,
			verdict: "PASS: scaled out from 1 to 2 instances in 30 s (desired raised after 30 s); traffic reached 1 instance [i-a]",
		},
		{
			name:    "no scale-out",
			in:      []Sample{s(0, 2, 2, 2, "i-a", "i-b"), s(300, 2, 2, 2, "i-a", "i-b")},
			want:    Verdict{From: 2, To: 2, Reached: []string{"i-a", "i-b"}, Last: 300 * time.Second},
			verdict: "FAIL: no scale-out within 300 s from desired capacity 2 (desired capacity never rose); traffic reached 2 instances [i-a i-b]",
		},
		{
			name: "desired rose but nothing came in service",
			in:   []Sample{s(0, 2, 2, 2), s(60, 4, 2, 2)},
			want: Verdict{From: 2, To: 2, DesiredRaised: true, DesiredAfter: 60 * time.Second, Last: 60 * time.Second},
			verdict: "FAIL: no scale-out within 60 s from desired capacity 2 (desired capacity rose after 60 s but no new " +
				"instance came in service); traffic reached 0 instances",
		},
		{
			name: "baseline is the first good poll, failed polls are ignored for counts",
			in:   []Sample{failed(0, "throttled", "i-a"), s(15, 3, 3, 3, "i-b"), failed(30, "timeout"), s(45, 3, 3, 3)},
			want: Verdict{From: 3, To: 3, Reached: []string{"i-a", "i-b"}, Last: 45 * time.Second},
			verdict: "FAIL: no scale-out within 45 s from desired capacity 3 (desired capacity never rose); " +
				"traffic reached 2 instances [i-a i-b]",
		},
		{
			name: "instances launching at the first poll are part of the baseline",
			in:   []Sample{s(0, 2, 1, 0, "i-a"), s(30, 2, 2, 2, "i-a", "i-b")},
			want: Verdict{From: 2, To: 2, Reached: []string{"i-a", "i-b"}, Last: 30 * time.Second},
			verdict: "FAIL: no scale-out within 30 s from desired capacity 2 (desired capacity never rose); " +
				"traffic reached 2 instances [i-a i-b]",
		},
		{
			name: "an instance refresh adds an instance without raising desired capacity",
			in:   []Sample{s(0, 2, 2, 2, "i-a", "i-b"), s(60, 2, 3, 3, "i-a", "i-c"), s(120, 2, 2, 2, "i-c", "i-d")},
			want: Verdict{From: 2, To: 2, Reached: []string{"i-a", "i-b", "i-c", "i-d"}, Last: 120 * time.Second},
			verdict: "FAIL: no scale-out within 120 s from desired capacity 2 (desired capacity never rose); " +
				"traffic reached 4 instances [i-a i-b i-c i-d]",
		},
		{
			name: "launching at the first poll, then a real scale-out",
			in:   []Sample{s(0, 2, 1, 1, "i-a"), s(30, 2, 2, 2, "i-b"), s(60, 3, 3, 3, "i-c")},
			want: Verdict{ScaledOut: true, From: 2, To: 3, After: 60 * time.Second, DesiredRaised: true,
				DesiredAfter: 60 * time.Second, Reached: []string{"i-a", "i-b", "i-c"}, Last: 60 * time.Second},
			done:    true,
			verdict: "PASS: scaled out from 2 to 3 instances in 60 s (desired raised after 60 s); traffic reached 3 instances [i-a i-b i-c]",
		},
		{
			name: "a refresh instance before desired rises does not count; the scale-out is when both are up",
			in:   []Sample{s(0, 2, 2, 2), s(30, 2, 3, 3), s(60, 3, 2, 2), s(90, 3, 3, 3)},
			want: Verdict{ScaledOut: true, From: 2, To: 3, After: 90 * time.Second, DesiredRaised: true,
				DesiredAfter: 60 * time.Second, Last: 90 * time.Second},
			verdict: "PASS: scaled out from 2 to 3 instances in 90 s (desired raised after 60 s); traffic reached 0 instances",
		},
		{
			name: "a scale-in during the test is not a scale-out",
			in:   []Sample{s(0, 3, 3, 3), s(60, 2, 2, 2), s(120, 3, 3, 3)},
			want: Verdict{From: 3, To: 3, Last: 120 * time.Second},
			verdict: "FAIL: no scale-out within 120 s from desired capacity 3 (desired capacity never rose); " +
				"traffic reached 0 instances",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Judge(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if !equal(got, c.want) {
				t.Errorf("verdict\n got %+v\nwant %+v", got, c.want)
			}
			if got.Done() != c.done {
				t.Errorf("Done() = %v, want %v", got.Done(), c.done)
			}
			if got.String() != c.verdict {
				t.Errorf("String()\n got %s\nwant %s", got.String(), c.verdict)
			}
		})
	}
}

func TestJudgeWithoutData(t *testing.T) {
	for _, in := range [][]Sample{nil, {failed(0, "no credentials"), failed(15, "no credentials")}} {
		if _, err := Judge(in); !errors.Is(err, ErrNoData) {
			t.Errorf("Judge(%d failed polls) error = %v, want ErrNoData", len(in), err)
		}
	}
}

func equal(a, b Verdict) bool {
	return slices.Equal(a.Reached, b.Reached) && a.ScaledOut == b.ScaledOut && a.From == b.From && a.To == b.To &&
		a.After == b.After && a.DesiredRaised == b.DesiredRaised && a.DesiredAfter == b.DesiredAfter && a.Last == b.Last
}
