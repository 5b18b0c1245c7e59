package handlers

import (
	"context"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/accountpw/accountpw/models"
)

// passwordPath is the one resource this service owns.
const passwordPath = "/api/v1/account/password"

// resetRequested is the only answer to {"email"}: byte-identical for known,
// unknown, disabled and over-quota addresses, so it says nothing about
// accounts.
var resetRequested = []byte(`{"status":"accepted","detail":"If an account exists for this address, an email with a reset link is on its way."}`)

// putPassword answers PUT /api/v1/account/password. The query string was
// checked by route middleware. Every request counts once against the coarse
// per-client ceiling: {"email"} inside RequestReset, in the same commit as
// its other limits (the hottest path pays for one transaction, not two),
// every other request through Admit before anything else is done for it.
// The body (at most 8 KiB) is read first, so that the shape is known.
func (s *server) putPassword(c echo.Context) error {
	ctx, client := c.Request().Context(), clientOf(c)
	raw, err := readBody(c, s.bodyTimeout)
	var body passwordBody
	if err == nil {
		body, err = decodeJSON(raw)
	} else if ctx.Err() != nil {
		// net/http ends the request's context when reading the connection
		// fails (a stalled body, a client that hung up), but the request
		// still counts and its 4xx is still written: count it on a context
		// of its own, bounded like the request.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), s.bodyTimeout)
		defer cancel()
	}
	if err == nil {
		setOperation(c, operationOf(body.set)) // before the ceiling: a refused {"token","new"} is still a reset
	}
	if err != nil || body.set != hasEmail {
		if aerr := s.svc.Admit(ctx, client); aerr != nil {
			return aerr
		}
		if err != nil {
			return err
		}
	}

	// The set of members present picks the operation; any other set is a 400, never a guess.
	switch body.set {
	case hasEmail:
		err = s.svc.RequestReset(ctx, client, body.email)
		if err == nil {
			return c.JSONBlob(http.StatusAccepted, resetRequested)
		}
	case hasToken | hasNew:
		err = s.svc.Reset(ctx, client, body.token, body.newPassword)
	case hasOld | hasNew:
		bearer, ok := bearerToken(c.Request())
		if !ok {
			return models.ErrUnauthenticated
		}
		session, authErr := s.svc.Authenticate(ctx, bearer)
		if authErr != nil {
			return authErr
		}
		err = s.svc.Change(ctx, client, session, body.oldPassword, body.newPassword)
	default:
		return models.ErrInvalidBody
	}
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// bearerToken returns the token of a single "Authorization: Bearer <token>"
// header. The scheme is case-insensitive (RFC 9110 §11.1); anything else,
// including an empty token or one with inner spaces, is no token at all.
func bearerToken(r *http.Request) (string, bool) {
	values := r.Header.Values(echo.HeaderAuthorization)
	if len(values) != 1 {
		return "", false
	}
	scheme, token, found := strings.Cut(values[0], " ")
	token = strings.TrimLeft(token, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// clientOf describes the sender for the services. RealIP goes through the
// configured IPExtractor, so forwarding headers count only from trusted
// proxies. Accept-Language is passed raw, capped; the services negotiate it.
func clientOf(c echo.Context) models.Client {
	return models.Client{IP: c.RealIP(), RequestID: c.Response().Header().Get(echo.HeaderXRequestID),
		Languages: acceptLanguage(c.Request())}
}
