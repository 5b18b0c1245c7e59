package models

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestErrorIs(t *testing.T) {
	t.Parallel()
	wrapped := func(err error) error { return fmt.Errorf("authenticate: %w", err) }
	for _, tc := range []struct {
		name        string
		err, target error
		want        bool
	}{
		{"a stale session is a stale session", wrapped(ErrStaleSession), ErrStaleSession, true},
		{"a stale session is unauthenticated", wrapped(ErrStaleSession), ErrUnauthenticated, true},
		{"a plain unauthenticated error is no stale session", wrapped(ErrUnauthenticated), ErrStaleSession, false},
		{"a copy with a retry time matches its sentinel", RateLimited(3 * time.Second), RateLimited(time.Second), true},
		{"different codes never match", ErrWrongPassword, ErrInvalidToken, false},
		{"a plain error is no models error", errors.New("unauthenticated"), ErrUnauthenticated, false},
	} {
		if got := errors.Is(tc.err, tc.target); got != tc.want {
			t.Errorf("%s: errors.Is(%v, %v) = %v, want %v", tc.name, tc.err, tc.target, got, tc.want)
		}
	}
}

func TestKindOf(t *testing.T) {
	t.Parallel()
	if got := KindOf(fmt.Errorf("x: %w", ErrStaleSession)); got != KindUnauthorized {
		t.Errorf("stale session: got kind %v, want KindUnauthorized", got)
	}
	if got := KindOf(errors.New("boom")); got != KindInternal {
		t.Errorf("unclassified: got kind %v, want KindInternal", got)
	}
}
