package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/accountpw/accountpw/models"
)

// The admin API's password operations: a support desk's reset, and the
// application's sign-in check.

// Ways a support reset is delivered.
const (
	deliverEmail  = "email"
	deliverReturn = "return"
)

var (
	errBadDeliver = &models.Error{Kind: models.KindInvalid, Code: "invalid_body", Field: "deliver",
		Message: `The body is empty (email the link) or {"deliver":"email"} or {"deliver":"return"} (answer the link).`}
	errBadSignIn = &models.Error{Kind: models.KindInvalid, Code: "invalid_body",
		Message: `The body must be a JSON object with "password" and exactly one of "id" or "email", and optionally "client_ip", each a non-empty string.`}
	// resetQueued is the answer to a support reset by email.
	resetQueued = []byte(`{"status":"queued"}`)
)

// passwordReset answers POST /admin/v1/accounts/{id}/password-reset: 202
// when the email is queued, 200 and the link with {"deliver":"return"}.
func (a *adminServer) passwordReset(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	deliver := deliverEmail
	if r := c.Request(); r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
		body, err := readBody(c, a.bodyTimeout)
		if err != nil {
			return err
		}
		err = decodeMembers(body, []string{"deliver"}, func(_ int, v string) { deliver = v })
		if err != nil || (deliver != deliverEmail && deliver != deliverReturn) {
			return errBadDeliver
		}
	}
	ctx, client := c.Request().Context(), clientOf(c)
	if deliver == deliverReturn {
		link, err := a.svc.ResetLink(ctx, client, id)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, link)
	}
	if err := a.svc.EmailReset(ctx, client, id); err != nil {
		return err
	}
	return c.JSONBlob(http.StatusAccepted, resetQueued)
}

// signInMembers are the members of a sign-in check, in the order of the
// fields decodeMembers fills.
var signInMembers = []string{"id", "email", "password", "client_ip"}

// verifyPassword answers POST /admin/v1/password/verify: 200 and
// {"valid":…} for every account, known or not.
func (a *adminServer) verifyPassword(c echo.Context) error {
	body, err := readBody(c, a.bodyTimeout)
	if err != nil {
		return err
	}
	var in models.SignIn
	fields := [...]*string{&in.ID, &in.Email, &in.Password, &in.ClientIP}
	if err := decodeMembers(body, signInMembers, func(i int, v string) { *fields[i] = v }); err != nil {
		return errBadSignIn
	}
	if in.Password == "" || (in.ID == "") == (in.Email == "") {
		return errBadSignIn
	}
	out, err := a.svc.SignIn(c.Request().Context(), clientOf(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}
