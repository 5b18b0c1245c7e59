package account

import (
	"context"
	"errors"
	"fmt"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/webhook"
)

// DeleteUser removes the account id, its reset tokens and its back-off
// state, and queues account.deleted in the same transaction (when
// webhook.events asks for it). Emails already queued for it are not sent:
// the composer finds no account and the worker drops them
// (queue.ErrNoRecipient). Errors: models.ErrInvalidUserID, ErrNoAccount, a
// wrapped database error.
func (p *Passwords) DeleteUser(ctx context.Context, id string) error {
	if err := models.ValidateUserID(id); err != nil {
		return invalidID(err)
	}
	err := p.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteUser(ctx, id); err != nil {
			return err
		}
		// The sign-in check's back-off goes with it (the bare id's, the
		// {"old","new"} one, the store deletes).
		if err := tx.ClearChangeFailures(ctx, signInSubject(id)); err != nil {
			return err
		}
		if !p.Queue.SendsEvent(webhook.TypeAccountDeleted) {
			return nil
		}
		now := p.Now()
		e, err := webhook.AccountDeleted(id, now, now)
		if err != nil {
			return err
		}
		return p.Queue.EnqueueEvents(ctx, tx, []webhook.Event{e})
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrNoAccount
	}
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	return nil
}
