// Package health keeps the answer /health gives the load balancer: UP while serving, DRAINING once the
// instance is leaving service, UNHEALTHY while a failure is injected to demonstrate replacement.
package health

import (
	"sync"
	"time"

	"github.com/scaleapp/scaleapp/contract"
)

// Status is the body /health answers with.
type Status string

// Up is the contract's health_ok_body: the bake's health gate and the smoke test expect exactly it.
var Up = Status(contract.C.HealthOKBody)

const (
	Draining  Status = "DRAINING"
	Unhealthy Status = "UNHEALTHY"
)

// State is safe for concurrent use; /health reads it on every request, so reads take only a read lock.
type State struct {
	mu          sync.RWMutex
	draining    string // why, empty while serving
	failedUntil time.Time
	now         func() time.Time
}

// NewState starts UP. now is the clock (time.Now outside tests).
func NewState(now func() time.Time) *State { return &State{now: now} }

// Status reports the current answer. Draining wins over an injected failure: both are 503, and
// DRAINING tells the operator why more precisely.
func (s *State) Status() Status {
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch {
	case s.draining != "":
		return Draining
	case s.now().Before(s.failedUntil):
		return Unhealthy
	}
	return Up
}

// Drain makes /health answer DRAINING for good; the first reason given is kept. It reports whether this
// call started the drain.
func (s *State) Drain(reason string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining != "" {
		return false
	}
	s.draining = reason
	return true
}

// DrainReason is why the instance is draining, or "" while it serves.
func (s *State) DrainReason() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.draining
}

// InjectFailure makes /health answer UNHEALTHY for d and returns when that ends.
func (s *State) InjectFailure(d time.Duration) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failedUntil = s.now().Add(d)
	return s.failedUntil
}

// ClearFailure ends an injected failure; it reports whether one was active.
func (s *State) ClearFailure() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	active := s.now().Before(s.failedUntil)
	s.failedUntil = time.Time{}
	return active
}

// FailedUntil is the end of the injected failure, zero when none is active.
func (s *State) FailedUntil() time.Time {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.now().Before(s.failedUntil) {
		return time.Time{}
	}
	return s.failedUntil
}
