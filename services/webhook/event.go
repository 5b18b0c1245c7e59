// Package webhook builds, signs and sends the events accountpw emits to the
// adopting application, as the Standard Webhooks specification describes
// them (https://www.standardwebhooks.com): a JSON body, the headers
// webhook-id, webhook-timestamp and webhook-signature (HMAC-SHA256 with
// every configured secret), and a classification of the receiver's answer
// that tells a queue whether to retry, wait, stop or give up. It makes one
// attempt per call; retrying belongs to the queue.
//
// It imports models and config.
package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/accountpw/accountpw/models"
)

// The event types. password.changed is sent whenever webhook.url is set;
// the account.* types only to those who ask for them (webhook.events), so a
// receiver written for password.changed sees nothing new.
const (
	TypePasswordChanged     = models.EventPasswordChanged
	TypeAccountCreated      = models.EventAccountCreated
	TypeAccountEmailChanged = models.EventAccountEmailChanged
	TypeAccountDeleted      = models.EventAccountDeleted
)

// MethodImport says a password hash was set by the adopting application (an
// import, or the admin API) rather than by its owner; models holds the
// methods of the password resource.
const MethodImport models.PasswordMethod = "import"

// Event is the body of one webhook.
type Event struct {
	Type string `json:"type"`
	// Timestamp is when the event happened, in UTC; every attempt sends the
	// same body, so it is not the time of the attempt (webhook-timestamp is).
	Timestamp time.Time `json:"timestamp"`
	Data      Data      `json:"data"`
}

// Data is the data of an event: which account, and when (and, for a
// password, how). Nothing else on purpose: no address, no hash, no client
// IP. The receiver knows its accounts by id (and can read one through the
// admin API), and an event that leaked would say no more than that
// something happened to an account. Each type fills its own members; the
// others are left out of the body:
//
//	password.changed       user_id, method, changed_at
//	account.created        user_id, created_at
//	account.email_changed  user_id, changed_at
//	account.deleted        user_id, deleted_at
type Data struct {
	UserID    string                `json:"user_id"`
	Method    models.PasswordMethod `json:"method,omitempty"`
	ChangedAt time.Time             `json:"changed_at,omitzero"`
	CreatedAt time.Time             `json:"created_at,omitzero"`
	DeletedAt time.Time             `json:"deleted_at,omitzero"`
}

// PasswordChanged returns the event for userID's password, set by method
// (models.MethodReset, models.MethodChange or MethodImport) at changedAt, as
// it happens at now. Times are sent as RFC 3339 in UTC. Errors: an empty
// user id, any other method.
func PasswordChanged(userID string, method models.PasswordMethod, changedAt, now time.Time) (Event, error) {
	switch method {
	case models.MethodReset, models.MethodChange, MethodImport:
	default:
		return Event{}, errors.New("password changed event: unknown method")
	}
	return newEvent(TypePasswordChanged, Data{UserID: userID, Method: method, ChangedAt: changedAt.UTC()}, now)
}

// AccountCreated returns the event for the account userID, created at at.
// Errors: an empty user id.
func AccountCreated(userID string, at, now time.Time) (Event, error) {
	return newEvent(TypeAccountCreated, Data{UserID: userID, CreatedAt: at.UTC()}, now)
}

// AccountEmailChanged returns the event for the account userID, moved to
// another address at at. The address is not in it. Errors: an empty user id.
func AccountEmailChanged(userID string, at, now time.Time) (Event, error) {
	return newEvent(TypeAccountEmailChanged, Data{UserID: userID, ChangedAt: at.UTC()}, now)
}

// AccountDeleted returns the event for the account userID, deleted at at.
// Errors: an empty user id.
func AccountDeleted(userID string, at, now time.Time) (Event, error) {
	return newEvent(TypeAccountDeleted, Data{UserID: userID, DeletedAt: at.UTC()}, now)
}

func newEvent(typ string, d Data, now time.Time) (Event, error) {
	if d.UserID == "" {
		return Event{}, fmt.Errorf("%s event: no user id", typ)
	}
	return Event{Type: typ, Timestamp: now.UTC(), Data: d}, nil
}

// Body is the JSON the event is sent and signed as; sending these exact
// bytes on every attempt keeps each attempt's signature verifiable.
func (e Event) Body() ([]byte, error) { return json.Marshal(e) }
