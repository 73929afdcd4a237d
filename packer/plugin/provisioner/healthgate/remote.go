package healthgate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// remote runs short commands through the communicator and captures their output. systemctl and
// journalctl need root; Packer logs in as ec2-user (passwordless sudo) on AL2023 and in the local bake,
// but a template may log in as root (where sudo may not even exist), so the prefix is chosen from the
// remote uid.
type remote struct {
	comm packersdk.Communicator
	sudo bool
}

type result struct {
	stdout, stderr string
	exit           int
}

var errNoCommunicator = errors.New(`id -u printed nothing: the build has no working communicator (communicator = "none"?); the unit must be checked on the instance, over ssh`)

func (r *remote) detectSudo(ctx context.Context) error {
	res, err := r.run(ctx, "id -u", false)
	if err != nil {
		return fmt.Errorf("id -u: %w", err)
	}
	if res.exit == 0 && strings.TrimSpace(res.stdout) == "" {
		// What Packer's RPC communicator answers when the build has none.
		return errNoCommunicator
	}
	uid, err := strconv.Atoi(strings.TrimSpace(res.stdout))
	if res.exit != 0 || err != nil {
		return fmt.Errorf("id -u exited %d with %q: cannot tell whether the remote user is root", res.exit, res.stdout)
	}
	r.sudo = uid != 0
	return nil
}

// run starts cmd and waits for it or for ctx. privileged commands go through `sudo -n` when the
// remote user is not root (-n: fail at once rather than wait for a password prompt).
func (r *remote) run(ctx context.Context, cmd string, privileged bool) (result, error) {
	if privileged && r.sudo {
		cmd = "sudo -n " + cmd
	}
	var stdout, stderr bytes.Buffer
	rc := &packersdk.RemoteCmd{Command: cmd, Stdout: &stdout, Stderr: &stderr}
	if err := r.comm.Start(ctx, rc); err != nil {
		return result{}, fmt.Errorf("starting %q: %w", cmd, err)
	}
	done := make(chan int, 1)
	go func() { done <- rc.Wait() }()
	select {
	case exit := <-done:
		if exit == packersdk.CmdDisconnect {
			return result{}, fmt.Errorf("%q: the communicator disconnected", cmd)
		}
		return result{stdout: stdout.String(), stderr: stderr.String(), exit: exit}, nil
	case <-ctx.Done():
		return result{}, fmt.Errorf("%q did not finish: %w", cmd, ctx.Err())
	}
}

// quote makes s one word for the remote POSIX shell.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "(no output)"
	}
	return s
}
