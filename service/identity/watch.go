package identity

import (
	"context"
	"errors"
	"time"
)

// Leaving checks the two notices that an instance is about to leave service: the ASG's target lifecycle
// state (Terminated once a scale-in or replacement picked it) and a spot interruption notice. It returns
// a reason, or "" while the instance stays.
func (c *Client) Leaving(ctx context.Context) (string, error) {
	state, err := c.get(ctx, "autoscaling/target-lifecycle-state")
	switch {
	case err == nil && state == "Terminated":
		return "autoscaling target lifecycle state is Terminated", nil
	case err != nil && !errors.Is(err, errNotFound):
		return "", err
	}
	action, err := c.get(ctx, "spot/instance-action")
	switch {
	case err == nil && action != "":
		return "spot interruption notice: " + action, nil
	case err != nil && !errors.Is(err, errNotFound):
		return "", err
	}
	return "", nil
}

// Watch polls Leaving at once, then every interval, until ctx ends or a notice arrives; then it calls
// leave once with the reason and returns. (An instance that starts already Terminated must not answer UP
// for a whole interval.) Errors are passed to onErr and polling goes on: IMDS hiccups must not drain a
// healthy instance. each, if not nil, runs before every poll.
func (c *Client) Watch(ctx context.Context, interval time.Duration, leave func(reason string), onErr func(error), each func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for first := true; ; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		if each != nil {
			each()
		}
		reason, err := c.Leaving(ctx)
		if err != nil {
			if ctx.Err() == nil && onErr != nil {
				onErr(err)
			}
			continue
		}
		if reason != "" {
			leave(reason)
			return
		}
	}
}
