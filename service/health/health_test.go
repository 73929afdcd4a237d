package health

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestStateTransitions(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewState(func() time.Time { return now })
	steps := []struct {
		name string
		do   func()
		want Status
	}{
		{"starts up", func() {}, Up},
		{"failure injected", func() { s.InjectFailure(time.Minute) }, Unhealthy},
		{"failure expires", func() { now = now.Add(61 * time.Second) }, Up},
		{"failure again", func() { s.InjectFailure(time.Minute) }, Unhealthy},
		{"cleared", func() {
			if !s.ClearFailure() {
				t.Fatal("ClearFailure found no failure")
			}
		}, Up},
		{"draining wins", func() { s.InjectFailure(time.Minute); s.Drain("sigterm") }, Draining},
		{"drain is final", func() { s.ClearFailure(); now = now.Add(time.Hour) }, Draining},
	}
	for _, st := range steps {
		st.do()
		if got := s.Status(); got != st.want {
			t.Fatalf("%s: %s, want %s", st.name, got, st.want)
		}
	}
	if s.Drain("again") || s.DrainReason() != "sigterm" {
		t.Fatalf("second Drain must keep the first reason, got %q", s.DrainReason())
	}
}

func TestProbe(t *testing.T) {
	cases := []struct {
		code int
		body string
		want Status
		err  string
	}{
		{200, "UP", Up, ""},
		{503, "DRAINING", Draining, ""},
		{503, "UNHEALTHY", Unhealthy, ""},
		{200, "OK", "", "unexpected answer 200"},
		{500, "UP", "", "unexpected answer 500"},
	}
	for _, c := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(c.code)
			_, _ = w.Write([]byte(c.body))
		}))
		got, err := Probe(context.Background(), srv.URL, time.Second)
		srv.Close()
		if got != c.want || (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%d %q: got %q, %v", c.code, c.body, got, err)
		}
	}
}

func TestProbeDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	start := time.Now()
	if _, err := Probe(context.Background(), srv.URL, 100*time.Millisecond); err == nil {
		t.Fatal("a wedged server passed the probe")
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("probe took %s, deadline was 100ms", took)
	}
}
