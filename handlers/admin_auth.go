package handlers

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"

	"github.com/labstack/echo/v4"

	"github.com/accountpw/accountpw/models"
)

// errAdminUnauthenticated answers an admin request without a valid key.
var errAdminUnauthenticated = &models.Error{Kind: models.KindUnauthorized, Code: "unauthenticated",
	Message: "A valid admin API key is required: Authorization: Bearer <key>."}

// adminKeys are the configured API keys, kept as SHA-256 digests, with the
// id each is logged under.
type adminKeys struct {
	digests [][sha256.Size]byte
	ids     []string
}

// newAdminKeys panics without a key or with one shorter than
// MinAdminKeyLength: configuration refuses both before anything starts.
func newAdminKeys(keys []string) adminKeys {
	if len(keys) == 0 {
		panic("handlers: the admin API needs at least one key")
	}
	var k adminKeys
	for _, key := range keys {
		if len(key) < models.MinAdminKeyLength {
			panic(fmt.Sprintf("handlers: an admin API key is shorter than %d bytes", models.MinAdminKeyLength))
		}
		d := sha256.Sum256([]byte(key))
		k.digests = append(k.digests, d)
		k.ids = append(k.ids, keyID(d))
	}
	return k
}

// AdminKeyID is the id an admin API key is logged under: the first 12 hex
// digits of its SHA-256 (printf %s "$KEY" | sha256sum | cut -c1-12). It
// tells keys apart in the logs, during a rotation say, and reveals nothing
// of the key.
func AdminKeyID(key string) string { return keyID(sha256.Sum256([]byte(key))) }

// keyID is the id of the key whose SHA-256 is sum.
func keyID(sum [sha256.Size]byte) string { return hex.EncodeToString(sum[:6]) }

// match returns the id of the configured key token is. Digests of equal
// length are compared in constant time, every key every time, so neither
// the time nor the order of the keys tells how much of a guess was right.
func (k adminKeys) match(token string) (string, bool) {
	d := sha256.Sum256([]byte(token))
	found := -1
	for i := range k.digests {
		if subtle.ConstantTimeCompare(d[:], k.digests[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", false
	}
	return k.ids[found], true
}

// authenticate lets through requests bearing a configured key, and logs
// each call as a security event: the key's id, never the key; the route,
// never the path (an address in a query is the caller's data, not the
// log's), with the account's id when the path names one; and the status the
// call is answered with. A request without a valid key
// is answered 401 and logged too.
func (k adminKeys) authenticate(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			token, ok := bearerToken(c.Request())
			keyID, known := "", false
			if ok {
				keyID, known = k.match(token)
			}
			attrs := []slog.Attr{slog.String("method", c.Request().Method), slog.String("route", c.Path()),
				slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)), slog.String("ip", c.RealIP())}
			if !known {
				reason := "wrong_key"
				if !ok {
					reason = "no_key"
				}
				log.LogAttrs(c.Request().Context(), slog.LevelWarn, "security event",
					append([]slog.Attr{slog.String("event", "admin_refused"), slog.String("reason", reason)}, attrs...)...)
				return errAdminUnauthenticated
			}
			err := next(c)
			status := c.Response().Status
			if err != nil {
				status = statusFor(err)
			}
			// The account a call is about, when its path names one that can
			// be an id: the audit trail of writes, deletes and resets.
			if id, perr := pathID(c); perr == nil && id != "" && models.ValidateUserID(id) == nil {
				attrs = append(attrs, slog.String("user_id", id))
			}
			log.LogAttrs(c.Request().Context(), slog.LevelInfo, "security event",
				append([]slog.Attr{slog.String("event", "admin_call"), slog.String("key_id", keyID),
					slog.Int("status", status)}, attrs...)...)
			return err
		}
	}
}
