package healthgate

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// showProperties are read with one `systemctl show` per poll. The two monotonic timestamps give
// systemd's own start-to-active time (for Type=notify: start-to-READY=1).
// UnitFileState says whether an instance booted from the image starts the unit at all.
var showProperties = []string{
	"ActiveState", "SubState", "NRestarts", "Result", "UnitFileState",
	"ExecMainStartTimestampMonotonic", "ActiveEnterTimestampMonotonic",
}

// unitState is what `systemctl show` reports about a service unit.
type unitState struct {
	ActiveState, SubState, Result string
	UnitFileState                 string
	NRestarts                     int
	execStartUS, activeEnterUS    uint64
}

func (s unitState) String() string {
	return fmt.Sprintf("%s/%s Result=%s NRestarts=%d", s.ActiveState, s.SubState, s.Result, s.NRestarts)
}

func (s unitState) running() bool { return s.ActiveState == "active" && s.SubState == "running" }

// notEnabled says why an instance booted from the image would not start the unit: the gate restarts
// it by hand, so running proves nothing about boot. Only "enabled" survives a reboot ("enabled-runtime"
// lives in /run, "static", "disabled" and the rest start nothing at boot).
func (s unitState) notEnabled() error {
	if s.UnitFileState != "enabled" {
		return fmt.Errorf("unit is not enabled (UnitFileState=%s): an instance booted from this image would not start it (systemctl enable)", s.UnitFileState)
	}
	return nil
}

// broken says why the unit cannot become healthy by waiting longer. A manual restart resets
// NRestarts and Result, so any restart or non-success result seen afterwards is this bake's.
func (s unitState) broken() error {
	switch {
	case s.NRestarts > 0:
		return fmt.Errorf("unit is crash-looping: %s (systemd restarted it after it failed)", s)
	case s.ActiveState == "failed":
		return fmt.Errorf("unit failed: %s", s)
	case s.Result != "success":
		return fmt.Errorf("unit's main process ended abnormally: %s", s)
	case s.ActiveState == "inactive":
		return fmt.Errorf("unit is not running: %s (its main process exited or it was stopped)", s)
	}
	return nil
}

func (s unitState) readyNote() string {
	if s.execStartUS == 0 || s.activeEnterUS < s.execStartUS {
		return ""
	}
	d := time.Duration(s.activeEnterUS-s.execStartUS) * time.Microsecond
	return fmt.Sprintf(", main process start to active in %.1f ms (systemd timestamps)", float64(d.Microseconds())/1000)
}

func parseShow(out string) (unitState, error) {
	props := map[string]string{}
	for _, line := range lines(out) {
		k, v, ok := strings.Cut(line, "=")
		if ok {
			props[k] = v
		}
	}
	var s unitState
	for _, k := range []string{"ActiveState", "SubState", "NRestarts", "Result", "UnitFileState"} {
		if _, ok := props[k]; !ok {
			return s, fmt.Errorf("systemctl show printed no %s (got %q)", k, out)
		}
	}
	s.ActiveState, s.SubState, s.Result = props["ActiveState"], props["SubState"], props["Result"]
	s.UnitFileState = props["UnitFileState"]
	n, err := strconv.Atoi(props["NRestarts"])
	if err != nil {
		return s, fmt.Errorf("systemctl show: NRestarts=%q is not a number", props["NRestarts"])
	}
	s.NRestarts = n
	// The timestamps only improve the progress line: absent or odd values are left at zero.
	s.execStartUS, _ = strconv.ParseUint(props["ExecMainStartTimestampMonotonic"], 10, 64)
	s.activeEnterUS, _ = strconv.ParseUint(props["ActiveEnterTimestampMonotonic"], 10, 64)
	return s, nil
}

func showUnit(ctx context.Context, r *remote, unit string) (unitState, error) {
	cmd := fmt.Sprintf("systemctl show -p %s %s", strings.Join(showProperties, ","), quote(unit))
	res, err := r.run(ctx, cmd, false)
	if err != nil {
		return unitState{}, err
	}
	if res.exit != 0 {
		return unitState{}, fmt.Errorf("systemctl show exited %d: %s", res.exit, oneLine(res.stderr))
	}
	return parseShow(res.stdout)
}

// waitRunning polls until the unit is active/running, fails fast once it cannot get there, and
// gives up when ctx (the gate's timeout) ends.
func waitRunning(ctx context.Context, r *remote, unit string, every time.Duration) (unitState, error) {
	last := "never read"
	for {
		st, err := showUnit(ctx, r, unit)
		if err != nil {
			if ctx.Err() != nil {
				return st, fmt.Errorf("unit did not reach active/running (last state %s): %w", last, ctx.Err())
			}
			return st, err
		}
		if err := st.broken(); err != nil {
			return st, err
		}
		if st.running() {
			return st, nil
		}
		last = st.String()
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("unit did not reach active/running (last state %s): %w", last, ctx.Err())
		case <-time.After(every):
		}
	}
}
