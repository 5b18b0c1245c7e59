package webhook

import (
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
)

func TestPasswordChangedBody(t *testing.T) {
	t.Parallel()
	paris := time.FixedZone("CET", 3600)
	changed := time.Date(2026, 11, 28, 10, 15, 30, 0, paris)
	now := changed.Add(1500 * time.Millisecond)
	for _, tc := range []struct {
		method models.PasswordMethod
		want   string
	}{
		{models.MethodReset, `{"type":"password.changed","timestamp":"2026-11-28T09:15:31.5Z","data":{"user_id":"u-1","method":"reset","changed_at":"2026-11-28T09:15:30Z"}}`},
		{models.MethodChange, `{"type":"password.changed","timestamp":"2026-11-28T09:15:31.5Z","data":{"user_id":"u-1","method":"change","changed_at":"2026-11-28T09:15:30Z"}}`},
		{MethodImport, `{"type":"password.changed","timestamp":"2026-11-28T09:15:31.5Z","data":{"user_id":"u-1","method":"import","changed_at":"2026-11-28T09:15:30Z"}}`},
	} {
		e, err := PasswordChanged("u-1", tc.method, changed, now)
		if err != nil {
			t.Fatal(err)
		}
		body, err := e.Body()
		if err != nil || string(body) != tc.want {
			t.Errorf("%s: got %s %v, want %s", tc.method, body, err, tc.want)
		}
	}
	for _, bad := range []struct {
		name   string
		user   string
		method models.PasswordMethod
	}{{"no user id", "", models.MethodReset}, {"unknown method", "u-1", "guess"}, {"no method", "u-1", ""}} {
		if _, err := PasswordChanged(bad.user, bad.method, changed, now); err == nil {
			t.Errorf("%s: got nil, want an error", bad.name)
		}
	}
}
