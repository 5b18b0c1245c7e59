package config

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"

	"github.com/accountpw/accountpw/models"
)

// Secrets of the webhook section have the Standard Webhooks form
// "whsec_<base64>"; the HMAC key is the decoded part.
const (
	WebhookSecretPrefix = "whsec_"
	// MinWebhookSecretBytes is the shortest decoded key accepted: 192 bits,
	// the specification's lower bound.
	MinWebhookSecretBytes = 24
)

// Webhook configures the signed events sent to the adopting application
// (Standard Webhooks). Without URL no events are sent; a URL needs a secret
// and a secret needs a URL.
type Webhook struct {
	// URL receives the events: https, or http only for a loopback host.
	URL    string `yaml:"url" env:"URL"`
	Secret string `yaml:"-" env:"SECRET"`
	// OldSecrets are retired secrets, comma-separated. Events are signed
	// with each of them too, after the current one, so receivers can switch
	// keys without missing an event.
	OldSecrets string `yaml:"-" env:"OLD_SECRETS"`
	// Events are the event types sent (models.EventTypes); empty means
	// DefaultWebhookEvents. The account.* types are sent only when listed,
	// so that a receiver written for password.changed sees nothing new.
	Events []string `yaml:"events" env:"EVENTS"`
}

// DefaultWebhookEvents are the types sent when webhook.events is empty.
var DefaultWebhookEvents = []string{models.EventPasswordChanged}

// DefaultWebhook returns the webhook section's defaults: no URL, so no
// events, and password.changed alone once a URL is set.
func DefaultWebhook() Webhook {
	return Webhook{Events: slices.Clone(DefaultWebhookEvents)}
}

// Wants reports whether events of type typ are sent.
func (w Webhook) Wants(typ string) bool {
	events := w.Events
	if len(events) == 0 {
		events = DefaultWebhookEvents
	}
	return w.Enabled() && slices.Contains(events, typ)
}

// Enabled reports whether events are sent.
func (w Webhook) Enabled() bool { return w.URL != "" }

// Validate checks the section.
func (w Webhook) Validate() error {
	var p problems
	switch {
	case w.URL != "" && w.Secret == "":
		p.add("webhook.url needs ACCOUNTPW_WEBHOOK_SECRET to sign the events")
	case w.URL == "" && (w.Secret != "" || strings.TrimSpace(w.OldSecrets) != ""):
		p.add("ACCOUNTPW_WEBHOOK_SECRET and ACCOUNTPW_WEBHOOK_OLD_SECRETS need webhook.url; without it no events are sent")
	}
	// The URL is not quoted back: receivers often put a token in it.
	if w.URL != "" && models.CheckServiceURL(w.URL, true) != nil {
		p.add("webhook.url must be an absolute https URL (plain http only for localhost) without user info")
	}
	if w.Secret != "" || strings.TrimSpace(w.OldSecrets) != "" {
		if _, err := w.Keys(); err != nil {
			p = append(p, err)
		}
	}
	for _, e := range w.Events {
		if !slices.Contains(models.EventTypes, e) {
			// An event type is no secret: quoting it shows the typo.
			p.add("webhook.events: unknown event type %q (known: %s)", e, strings.Join(models.EventTypes, ", "))
		}
	}
	return p.err()
}

// Keys returns the HMAC keys events are signed with: the current secret's
// first, then the retired ones in their order. Every secret must be
// "whsec_" and the standard base64 (padded or not) of at least
// MinWebhookSecretBytes bytes. Errors name the variable and the entry,
// never the secret.
func (w Webhook) Keys() ([][]byte, error) {
	var keys [][]byte
	var p problems
	if w.Secret == "" && strings.TrimSpace(w.OldSecrets) != "" {
		p.add("ACCOUNTPW_WEBHOOK_OLD_SECRETS needs ACCOUNTPW_WEBHOOK_SECRET: events are signed with the current secret first")
	}
	if w.Secret != "" {
		if k, ok := webhookKey(w.Secret); ok {
			keys = append(keys, k)
		} else {
			p.add("ACCOUNTPW_WEBHOOK_SECRET must be whsec_ and the base64 of at least %d bytes", MinWebhookSecretBytes)
		}
	}
	if strings.TrimSpace(w.OldSecrets) != "" {
		for i, s := range strings.Split(w.OldSecrets, ",") {
			if k, ok := webhookKey(strings.TrimSpace(s)); ok {
				keys = append(keys, k)
			} else {
				p.add("ACCOUNTPW_WEBHOOK_OLD_SECRETS entry %d must be whsec_ and the base64 of at least %d bytes",
					i+1, MinWebhookSecretBytes)
			}
		}
	}
	if len(p) > 0 {
		return nil, errors.Join(p...)
	}
	return keys, nil
}

// webhookKey decodes one "whsec_<base64>" secret.
func webhookKey(secret string) ([]byte, bool) {
	b64, ok := strings.CutPrefix(secret, WebhookSecretPrefix)
	if !ok {
		return nil, false
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(b64)
	}
	return key, err == nil && len(key) >= MinWebhookSecretBytes
}
