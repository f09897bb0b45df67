package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

var errTransient = errors.New("throttled")

func TestRetriesTransientErrorsUntilSuccess(t *testing.T) {
	calls := 0
	var waits []time.Duration
	p := Policy{Attempts: 5, Base: 100 * time.Millisecond, Max: 300 * time.Millisecond, Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	err := Do(context.Background(), p, func(context.Context) error {
		calls++
		if calls < 4 {
			return errTransient
		}
		return nil
	})
	if err != nil || calls != 4 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
	limits := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}
	for i, w := range waits {
		if w < 0 || w > limits[i] {
			t.Fatalf("wait %d was %v, want at most %v", i, w, limits[i])
		}
	}
}

func TestStopsAtTheAttemptLimitWithTheLastError(t *testing.T) {
	calls := 0
	err := Do(context.Background(), Policy{Attempts: 3, Base: time.Millisecond}, func(context.Context) error { calls++; return errTransient })
	if !errors.Is(err, errTransient) || calls != 3 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
}

func TestDoesNotRetryPermanentErrors(t *testing.T) {
	calls := 0
	err := Do(context.Background(), Policy{Attempts: 5, Base: time.Millisecond}, func(context.Context) error { calls++; return Permanent{errors.New("access denied")} })
	if err == nil || calls != 1 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
}

func TestIsBoundedInTime(t *testing.T) {
	start := time.Now()
	err := Do(context.Background(), Policy{Attempts: 1000, Base: 20 * time.Millisecond, Max: 20 * time.Millisecond, Deadline: 150 * time.Millisecond}, func(context.Context) error { return errTransient })
	if !errors.Is(err, errTransient) {
		t.Fatalf("err %v", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Fatalf("took %v, want about the 150 ms deadline", elapsed)
	}
}
