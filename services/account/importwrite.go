package account

import (
	"context"
	"errors"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/queue"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/webhook"
)

// write runs a batch's plan inside tx: each round's inserts and updates as
// multi-row statements, then the end of reset tokens and the events.
func (im *importer) write(ctx context.Context, tx *store.Tx, plan *importPlan, now time.Time) error {
	for _, round := range plan.rounds {
		var inserts, updates []models.User
		for _, w := range round {
			if w.insert {
				inserts = append(inserts, w.user)
			} else {
				updates = append(updates, w.user)
			}
		}
		if err := tx.InsertUsers(ctx, inserts); err != nil {
			return err
		}
		if err := tx.UpdateUsers(ctx, updates); err != nil {
			return err
		}
	}
	if len(plan.endTokens) > 0 {
		if err := tx.DeleteUnusedTokensOf(ctx, plan.endTokens); err != nil {
			return err
		}
	}
	events, err := plan.events(im.p.Queue, now)
	if err != nil {
		return err
	}
	return im.p.Queue.EnqueueEvents(ctx, tx, events)
}

// events are the webhook events of a plan's writes, of the types q sends:
// a created account (account.created), a moved address
// (account.email_changed), a replaced hash (password.changed, method
// import). A new account's hash is no change of password.
func (p *importPlan) events(q *queue.Queue, now time.Time) ([]webhook.Event, error) {
	var out []webhook.Event
	add := func(typ string, users []models.User, event func(models.User) (webhook.Event, error)) error {
		if !q.SendsEvent(typ) {
			return nil
		}
		for _, u := range users {
			e, err := event(u)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	}
	err := errors.Join(
		add(webhook.TypeAccountCreated, p.created, func(u models.User) (webhook.Event, error) {
			return webhook.AccountCreated(u.ID, u.CreatedAt, now)
		}),
		add(webhook.TypeAccountEmailChanged, p.moved, func(u models.User) (webhook.Event, error) {
			return webhook.AccountEmailChanged(u.ID, now, now)
		}),
		add(webhook.TypePasswordChanged, p.changed, func(u models.User) (webhook.Event, error) {
			return webhook.PasswordChanged(u.ID, webhook.MethodImport, u.PasswordChangedAt, now)
		}))
	return out, err
}

func firstLine(batch []importLine, notes []models.ImportResult) int {
	n := 0
	if len(batch) > 0 {
		n = batch[0].n
	}
	if len(notes) > 0 && (n == 0 || notes[0].Line < n) {
		n = notes[0].Line
	}
	return n
}

func lastLine(batch []importLine, notes []models.ImportResult) int {
	n := 0
	if len(batch) > 0 {
		n = batch[len(batch)-1].n
	}
	if len(notes) > 0 {
		n = max(n, notes[len(notes)-1].Line)
	}
	return n
}
