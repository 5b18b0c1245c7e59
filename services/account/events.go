package account

import (
	"context"
	"fmt"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/webhook"
)

// queueChanged queues the password.changed event for the adopting
// application inside tx, so that it exists exactly when the new password
// commits; nothing when webhook.url is unset. The event names the account
// by id and says how and when: no address, no hash, no client IP.
func (p *Passwords) queueChanged(ctx context.Context, tx *store.Tx, userID string, method models.PasswordMethod, at time.Time) error {
	if !p.Queue.SendsEvents() {
		return nil
	}
	e, err := webhook.PasswordChanged(userID, method, at, p.Now())
	if err != nil {
		return fmt.Errorf("password changed event: %w", err)
	}
	return p.Queue.EnqueueEvents(ctx, tx, []webhook.Event{e})
}
