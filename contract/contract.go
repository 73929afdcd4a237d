// Package contract holds the names and numbers that cross the repository's folders: the service's port
// and health path, the systemd unit, the drain budget, the AMI tags and the Terraform variable the bake
// hands over. contract.json is the single source: the service embeds it here, Terraform and Packer read
// it with jsondecode(file(...)), and the tests in this package check the copies that cannot read it
// (the unit file, the default env file, docs).
package contract

import (
	_ "embed"
	"encoding/json"
	"time"
)

//go:embed contract.json
var raw []byte

// Contract mirrors contract.json.
type Contract struct {
	Name                   string `json:"name"`
	Port                   int    `json:"port"`
	HealthPath             string `json:"health_path"`
	HealthOKBody           string `json:"health_ok_body"`
	HealthBudgetMS         int    `json:"health_budget_ms"`
	Unit                   string `json:"unit"`
	BinaryPath             string `json:"binary_path"`
	EnvFile                string `json:"env_file"`
	DrainDelaySeconds      int    `json:"drain_delay_seconds"`
	ShutdownTimeoutSeconds int    `json:"shutdown_timeout_seconds"`
	StopTimeoutSeconds     int    `json:"stop_timeout_seconds"` // the unit's TimeoutStopSec
	WatchdogSeconds        int    `json:"watchdog_seconds"`
	// HealthCheck is the load balancer's active check (the ALB target group; HAProxy in the local lab).
	HealthCheck HealthCheck `json:"health_check"`
	AMITagKey   string      `json:"ami_tag_key"`
	AMITagValue string      `json:"ami_tag_value"`
	TFVarsFile  string      `json:"tfvars_file"`
	AMIVariable string      `json:"ami_variable"`
}

// HealthCheck is how the load balancer probes health_path.
type HealthCheck struct {
	IntervalSeconds    int `json:"interval_seconds"`
	TimeoutSeconds     int `json:"timeout_seconds"`
	HealthyThreshold   int `json:"healthy_threshold"`
	UnhealthyThreshold int `json:"unhealthy_threshold"`
}

// C is the parsed contract. A malformed contract.json is a build-time mistake, so it panics at init and
// every test in the repository fails at once.
var C = func() Contract {
	var c Contract
	if err := json.Unmarshal(raw, &c); err != nil {
		panic("contract.json: " + err.Error())
	}
	return c
}()

// DrainDelay is how long an instance keeps serving after it starts draining, as configured on the AMI.
func (c Contract) DrainDelay() time.Duration { return time.Duration(c.DrainDelaySeconds) * time.Second }

// ShutdownTimeout bounds http.Server.Shutdown after the drain delay.
func (c Contract) ShutdownTimeout() time.Duration {
	return time.Duration(c.ShutdownTimeoutSeconds) * time.Second
}
