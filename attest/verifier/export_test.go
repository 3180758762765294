package verifier

import (
	"context"
	"time"

	"tep.dev/tep/attest/store"
)

// PullClaimed and PullFrom open the scheduler's steps to the external
// tests, which need package appraise (importing this one).
func (v *Verifier) PullClaimed(ctx context.Context, h store.Host, interval, timeout time.Duration) {
	v.pullClaimed(ctx, h, interval, timeout)
}

func (v *Verifier) PullFrom(ctx context.Context, h store.Host) (store.Report, error) {
	return v.pull(ctx, h)
}
