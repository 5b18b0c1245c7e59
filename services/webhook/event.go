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
	"time"

	"github.com/accountpw/accountpw/models"
)

// TypePasswordChanged is the type of the event sent when a password changes.
const TypePasswordChanged = "password.changed"

// MethodImport says a password hash was set by an import rather than by its
// owner; models holds the methods of the password resource.
const MethodImport models.PasswordMethod = "import"

// Event is the body of one webhook.
type Event struct {
	Type string `json:"type"`
	// Timestamp is when the event happened, in UTC; every attempt sends the
	// same body, so it is not the time of the attempt (webhook-timestamp is).
	Timestamp time.Time      `json:"timestamp"`
	Data      PasswordChange `json:"data"`
}

// PasswordChange is the data of a password.changed event: which account,
// how and when. Nothing else on purpose: no address, no hash, no client IP.
// The receiver knows its accounts by id, and an event that leaked would say
// no more than that a password changed.
type PasswordChange struct {
	UserID    string                `json:"user_id"`
	Method    models.PasswordMethod `json:"method"`
	ChangedAt time.Time             `json:"changed_at"`
}

// PasswordChanged returns the event for userID's password, set by method
// (models.MethodReset, models.MethodChange or MethodImport) at changedAt, as
// it happens at now. Times are sent as RFC 3339 in UTC. Errors: an empty
// user id, any other method.
func PasswordChanged(userID string, method models.PasswordMethod, changedAt, now time.Time) (Event, error) {
	if userID == "" {
		return Event{}, errors.New("password changed event: no user id")
	}
	switch method {
	case models.MethodReset, models.MethodChange, MethodImport:
	default:
		return Event{}, errors.New("password changed event: unknown method")
	}
	return Event{Type: TypePasswordChanged, Timestamp: now.UTC(),
		Data: PasswordChange{UserID: userID, Method: method, ChangedAt: changedAt.UTC()}}, nil
}

// Body is the JSON the event is sent and signed as; sending these exact
// bytes on every attempt keeps each attempt's signature verifiable.
func (e Event) Body() ([]byte, error) { return json.Marshal(e) }
