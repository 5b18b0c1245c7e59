package handlers

import (
	"bytes"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/accountpw/accountpw/models"
)

// Limits of the admin API's bodies. An account is a few hundred bytes; the
// import line's own cap (64 KiB) bounds a PUT. An import call carries at
// most maxImportLines lines in at most maxImportBody bytes: a thousand
// accounts of about 2 KiB each, which is far more than any real account
// needs, and little enough to hold while its one transaction runs.
const (
	maxAccountBody  = 64 << 10
	maxImportBody   = 2 << 20
	maxImportLines  = 1000
	mediaTypeNDJSON = "application/x-ndjson"
)

// Errors only the admin API produces.
var (
	errAccountTooLarge = &models.Error{Kind: models.KindTooLarge, Code: "body_too_large",
		Message: "The body is larger than 65536 bytes."}
	errImportTooLarge = &models.Error{Kind: models.KindTooLarge, Code: "body_too_large",
		Message: "The body is larger than 2097152 bytes: send at most 1000 lines per call."}
	errTooManyLines = &models.Error{Kind: models.KindTooLarge, Code: "too_many_lines",
		Message: "Send at most 1000 lines per call; split the file and send the rest in further calls."}
	errUnsupportedNDJSON = &models.Error{Kind: models.KindUnsupportedMedia, Code: "unsupported_media_type",
		Message: "Send the lines as Content-Type: application/x-ndjson (charset=utf-8 is the only parameter allowed)."}
)

var (
	accountBodyRule = bodyRule{limit: maxAccountBody, accepts: isJSON, tooLarge: errAccountTooLarge, unsupported: errUnsupportedMedia}
	importBodyRule  = bodyRule{limit: maxImportBody, accepts: func(v []string) bool { return isMediaType(v, mediaTypeNDJSON) },
		tooLarge: errImportTooLarge, unsupported: errUnsupportedNDJSON}
)

// badQuery is the answer to a query parameter a route does not take, or
// takes once, or not with another.
func badQuery(field, message string) error {
	return &models.Error{Kind: models.KindInvalid, Code: "invalid_query", Field: field, Message: message}
}

// pathID is the account id of the path, percent-decoded once: a client
// that encodes "shop:42" as shop%3A42 means the same account. Echo matches
// the escaped path when it differs from the decoded one's default encoding
// (URL.RawPath), and the decoded path otherwise, whose id is decoded
// already: decoding it again would make shop%253A42 the account shop:42.
func pathID(c echo.Context) (string, error) {
	if c.Request().URL.RawPath == "" {
		return c.Param("id"), nil
	}
	id, err := url.PathUnescape(c.Param("id"))
	if err != nil {
		return "", &models.Error{Kind: models.KindInvalid, Code: "invalid_user_id", Field: "id",
			Message: "The account id in the path is not valid percent-encoding."}
	}
	return id, nil
}

// accountAnswer is an account as the admin API shows it after a write: the
// account, and a note when the write did less than was sent.
type accountAnswer struct {
	models.AccountInfo
	Note *accountNote `json:"note,omitempty"`
}

type accountNote struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// getAccount answers GET /admin/v1/accounts/{id}.
func (a *adminServer) getAccount(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	info, err := a.svc.Account(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, info)
}

// listAccounts answers GET /admin/v1/accounts: ?email= finds the account
// of one address (a page of one, or of none), ?after=&limit= walks them all.
func (a *adminServer) listAccounts(c echo.Context) error {
	q := c.Request().URL.Query()
	for name, values := range q {
		switch {
		case name != "email" && name != "after" && name != "limit":
			return badQuery("", "The known query parameters are email, after and limit.")
		case len(values) != 1:
			return badQuery(name, "Give each query parameter at most once.")
		}
	}
	ctx := c.Request().Context()
	if q.Has("email") {
		if q.Has("after") || q.Has("limit") {
			return badQuery("email", "email finds one account: it takes neither after nor limit.")
		}
		info, err := a.svc.AccountByEmail(ctx, q.Get("email"))
		switch {
		case models.KindOf(err) == models.KindNotFound:
			return c.JSON(http.StatusOK, models.AccountPage{Accounts: []models.AccountInfo{}})
		case err != nil:
			return err
		}
		return c.JSON(http.StatusOK, models.AccountPage{Accounts: []models.AccountInfo{info}})
	}
	limit := 0
	if v := q.Get("limit"); q.Has("limit") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return badQuery("limit", "limit is a whole number from 1 to 1000.")
		}
		limit = n
	}
	page, err := a.svc.Accounts(ctx, q.Get("after"), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

// putAccount answers PUT /admin/v1/accounts/{id}: 201 and the account when
// it was created, 200 when it existed.
func (a *adminServer) putAccount(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	body, err := readBodyOf(c, accountBodyRule, a.bodyTimeout)
	if err != nil {
		return err
	}
	put, err := a.svc.PutAccount(c.Request().Context(), id, body)
	if err != nil {
		return err
	}
	out := accountAnswer{AccountInfo: put.Account}
	if put.NoteCode != "" {
		out.Note = &accountNote{Code: put.NoteCode, Detail: put.Note}
	}
	if put.Created {
		c.Response().Header().Set(echo.HeaderLocation, adminAccounts+"/"+url.PathEscape(put.Account.ID))
		return c.JSON(http.StatusCreated, out)
	}
	return c.JSON(http.StatusOK, out)
}

// deleteAccount answers DELETE /admin/v1/accounts/{id}.
func (a *adminServer) deleteAccount(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := a.svc.DeleteUser(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// importAnswer is the answer of an import call: the summary, and every
// line's result in line order.
type importAnswer struct {
	Summary models.ImportSummary  `json:"summary"`
	Results []models.ImportResult `json:"results"`
}

// importAccounts answers POST /admin/v1/accounts/import: JSON Lines, at
// most maxImportLines of them, applied as one batch (one transaction), or
// only checked with ?dry_run=true.
func (a *adminServer) importAccounts(c echo.Context) error {
	dryRun := false
	for name, values := range c.Request().URL.Query() {
		if name != "dry_run" || len(values) != 1 || (values[0] != "true" && values[0] != "false") {
			return badQuery(name, "The one query parameter is dry_run=true or dry_run=false.")
		}
		dryRun = values[0] == "true"
	}
	body, err := readBodyOf(c, importBodyRule, a.bodyTimeout)
	if err != nil {
		return err
	}
	if lines(body) > maxImportLines {
		return errTooManyLines
	}
	out := importAnswer{Results: []models.ImportResult{}}
	out.Summary, err = a.svc.ImportAccounts(c.Request().Context(), bytes.NewReader(body), dryRun,
		func(r models.ImportResult) { out.Results = append(out.Results, r) })
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// lines counts the lines of body that are not blank, as the import counts
// them.
func lines(body []byte) int {
	n := 0
	for line := range bytes.Lines(body) {
		if len(bytes.TrimSpace(line)) > 0 {
			n++
		}
	}
	return n
}
