package account

import (
	"context"
	"time"

	"github.com/accountpw/accountpw/models"
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
	if len(plan.changed) == 0 || !im.p.Queue.SendsEvents() {
		return nil
	}
	events := make([]webhook.Event, 0, len(plan.changed))
	for _, u := range plan.changed {
		e, err := webhook.PasswordChanged(u.ID, webhook.MethodImport, u.PasswordChangedAt, now)
		if err != nil {
			return err
		}
		events = append(events, e)
	}
	return im.p.Queue.EnqueueEvents(ctx, tx, events)
}

func firstLine(batch []importLine, notes []ImportNote) int {
	n := 0
	if len(batch) > 0 {
		n = batch[0].n
	}
	if len(notes) > 0 && (n == 0 || notes[0].Line < n) {
		n = notes[0].Line
	}
	return n
}

func lastLine(batch []importLine, notes []ImportNote) int {
	n := 0
	if len(batch) > 0 {
		n = batch[len(batch)-1].n
	}
	if len(notes) > 0 {
		n = max(n, notes[len(notes)-1].Line)
	}
	return n
}
