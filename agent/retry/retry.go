// Package retry repeats transient failures with exponential backoff and
// jitter, bounded in attempts and in time.
package retry

import (
	"context"
	"errors"
	"math/rand"
	"time"
)

// Policy bounds the retries.
type Policy struct {
	Attempts int           // at most this many calls in all
	Base     time.Duration // first wait
	Max      time.Duration // longest single wait
	Deadline time.Duration // all attempts together
	// Sleep waits; replaceable in tests.
	Sleep func(context.Context, time.Duration) error
}

// Permanent marks an error that retrying cannot fix.
type Permanent struct{ Err error }

func (p Permanent) Error() string { return p.Err.Error() }
func (p Permanent) Unwrap() error { return p.Err }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Do calls fn until it succeeds, returns a Permanent error, or the policy runs out;
// the last error is returned.
func Do(ctx context.Context, p Policy, fn func(context.Context) error) error {
	if p.Sleep == nil {
		p.Sleep = sleep
	}
	if p.Deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.Deadline)
		defer cancel()
	}
	wait := p.Base
	var err error
	for attempt := 1; ; attempt++ {
		err = fn(ctx)
		var permanent Permanent
		if err == nil || errors.As(err, &permanent) || attempt >= p.Attempts {
			return err
		}
		// Full jitter: a random wait up to the current backoff spreads out a fleet's retries.
		d := time.Duration(rand.Int63n(int64(wait) + 1))
		if serr := p.Sleep(ctx, d); serr != nil {
			return err
		}
		if wait *= 2; p.Max > 0 && wait > p.Max {
			wait = p.Max
		}
	}
}
