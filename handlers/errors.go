package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/accountpw/accountpw/models"
)

// statusOf is the only table from error kind to HTTP status in the code base.
var statusOf = map[models.Kind]int{
	models.KindInvalid:          http.StatusBadRequest,
	models.KindUnauthorized:     http.StatusUnauthorized,
	models.KindForbidden:        http.StatusForbidden,
	models.KindNotFound:         http.StatusNotFound,
	models.KindMethodNotAllowed: http.StatusMethodNotAllowed,
	models.KindTooLarge:         http.StatusRequestEntityTooLarge,
	models.KindUnsupportedMedia: http.StatusUnsupportedMediaType,
	models.KindPolicy:           http.StatusUnprocessableEntity,
	models.KindRateLimited:      http.StatusTooManyRequests,
	models.KindUnavailable:      http.StatusServiceUnavailable,
	models.KindInternal:         http.StatusInternalServerError,
	models.KindConflict:         http.StatusConflict,
	models.KindRequestTimeout:   http.StatusRequestTimeout,
}

// Errors that only the HTTP layer produces. They are *models.Error values so
// that they travel through the same table as the services' errors.
var (
	errNotFound = &models.Error{Kind: models.KindNotFound, Code: "not_found",
		Message: "There is no resource at this path."}
	errMethodNotAllowed = &models.Error{Kind: models.KindMethodNotAllowed, Code: "method_not_allowed",
		Message: "This method is not allowed on this resource; the Allow header lists the ones that are."}
	errTooLarge = &models.Error{Kind: models.KindTooLarge, Code: "body_too_large",
		Message: "The body is larger than 8192 bytes."}
	errUnsupportedMedia = &models.Error{Kind: models.KindUnsupportedMedia, Code: "unsupported_media_type",
		Message: "Send the body as Content-Type: application/json (charset=utf-8 is the only parameter allowed)."}
	// errBodyTimeout is a body that stopped arriving: the client's fault, so
	// a 4xx, never the 503 of a service that could not answer in time.
	errBodyTimeout = &models.Error{Kind: models.KindRequestTimeout, Code: "body_timeout",
		Message: "The request body did not arrive in time. Send the request again, with its whole body."}
	errBadRequest = &models.Error{Kind: models.KindInvalid, Code: "bad_request",
		Message: "The request could not be understood."}
	errInternal = &models.Error{Kind: models.KindInternal, Code: "internal",
		Message: "Something went wrong on our side. Try again later; if it keeps happening, contact support with the request id."}
)

// fromEcho translates the errors that Echo's router and middleware return.
var fromEcho = map[int]*models.Error{
	http.StatusNotFound:              errNotFound,
	http.StatusMethodNotAllowed:      errMethodNotAllowed,
	http.StatusRequestEntityTooLarge: errTooLarge,
	http.StatusUnsupportedMediaType:  errUnsupportedMedia,
	http.StatusServiceUnavailable:    models.ErrUnavailable,
}

// problemBase prefixes every problem type; the code completes it, so there
// is exactly one type per code.
const problemBase = "https://accountpw.dev/problems/"

// ctxProblemCode is where the error handler leaves the code for the access log.
const ctxProblemCode = "accountpw.problem_code"

// problem is an RFC 9457 problem details object; code, field and request_id
// are extension members.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// classify reduces any error to a *models.Error that is safe to send.
func classify(err error) *models.Error {
	var me *models.Error
	var he *echo.HTTPError
	switch {
	case errors.As(err, &me):
		if me.Kind == models.KindInternal {
			return errInternal
		}
		return me
	case errors.As(err, &he):
		if e, ok := fromEcho[he.Code]; ok {
			return e
		}
		if he.Code >= 400 && he.Code < 500 {
			return errBadRequest
		}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return models.ErrUnavailable
	}
	return errInternal
}

// problemOf is what a client is told of err, and with which status.
func problemOf(err error) (*models.Error, int) {
	e := classify(err)
	status := statusOf[e.Kind]
	if status == 0 {
		return errInternal, http.StatusInternalServerError
	}
	return e, status
}

// statusFor is the status err is answered with.
func statusFor(err error) int {
	_, status := problemOf(err)
	return status
}

// handleError is the Echo HTTPErrorHandler: it writes every error as
// application/problem+json. Handlers return errors untouched and this is the
// only place that decides what a client sees of them. The text of 5xx errors
// is logged here and never sent.
func (s *server) handleError(err error, c echo.Context) {
	if c.Get(ctxProblemCode) != nil {
		return // the access log handled it already and Echo passes it on again
	}
	e, status := problemOf(err)
	rid := c.Response().Header().Get(echo.HeaderXRequestID)
	c.Set(ctxProblemCode, e.Code)
	if status >= 500 {
		lvl := slog.LevelWarn
		switch {
		case clientGone(c):
			lvl = slog.LevelDebug // nothing failed that anyone waits for
		case status == http.StatusInternalServerError:
			lvl = slog.LevelError
		}
		s.log.LogAttrs(c.Request().Context(), lvl, "request failed",
			slog.String("request_id", rid), slog.String("route", c.Path()),
			slog.Int("status", status), slog.String("error", err.Error()))
	}
	if c.Response().Committed {
		return
	}

	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "application/problem+json")
	switch status {
	case http.StatusUnauthorized:
		h.Set(echo.HeaderWWWAuthenticate, wwwAuthenticate(c.Request(), s.realm))
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		h.Set(echo.HeaderRetryAfter, retryAfter(e.RetryAfter))
	case http.StatusRequestTimeout:
		// RFC 9110 §15.5.9: the rest of the request may still come, and it
		// must not be read as the next one.
		h.Set(echo.HeaderConnection, "close")
	}
	body, _ := json.Marshal(problem{
		Type: problemBase + e.Code, Title: titleOf(e.Code, status), Status: status,
		Detail: e.Message, Code: e.Code, Field: e.Field, RequestID: rid,
	})
	// HEAD gets the GET's headers, the length of the body it does not get
	// included (RFC 9110 §9.3.2).
	h.Set(echo.HeaderContentLength, strconv.Itoa(len(body)))
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.Blob(status, "application/problem+json", body)
}

// ctxClient is where rememberClient keeps the request's own context.
const ctxClient = "accountpw.client_context"

// rememberClient keeps the context the server gave the request, before the
// request timeout derives one with a deadline from it: that one ends only
// when the client goes away (or the server shuts down).
func rememberClient(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Set(ctxClient, c.Request().Context())
		return next(c)
	}
}

// clientGone reports whether the client disconnected before its answer: its
// failure is then no failure of the service, and is logged at debug at most.
func clientGone(c echo.Context) bool {
	ctx, ok := c.Get(ctxClient).(context.Context)
	return ok && ctx.Err() != nil
}

// retryAfter renders d as whole delay-seconds, rounded up, never below one.
func retryAfter(d time.Duration) string {
	secs := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(secs, 1), 10)
}

// wwwAuthenticate builds the RFC 6750 challenge: no error code when no bearer
// token came, invalid_request for an empty one, invalid_token otherwise.
func wwwAuthenticate(r *http.Request, realm string) string {
	challenge := `Bearer realm="` + realm + `"`
	scheme, token, _ := strings.Cut(r.Header.Get(echo.HeaderAuthorization), " ")
	switch {
	case !strings.EqualFold(scheme, "Bearer"):
		return challenge
	case strings.TrimSpace(token) == "":
		return challenge + `, error="invalid_request"`
	default:
		return challenge + `, error="invalid_token"`
	}
}

// titles are the constant human summaries of the codes the API documents;
// an unknown code falls back to the status text, which is just as constant.
var titles = map[string]string{
	"invalid_body":           "Malformed request body",
	"query_not_allowed":      "Query string not allowed",
	"invalid_email":          "Invalid email address",
	"bad_request":            "Bad request",
	"unauthenticated":        "Authentication required",
	"invalid_token":          "Invalid or expired reset token",
	"wrong_password":         "Current password incorrect",
	"not_found":              "Not found",
	"method_not_allowed":     "Method not allowed",
	"body_too_large":         "Body too large",
	"body_timeout":           "Request body timed out",
	"unsupported_media_type": "Unsupported media type",
	"rate_limited":           "Too many requests",
	"busy":                   "Service busy",
	"unavailable":            "Service unavailable",
	"internal":               "Internal server error",
	// The admin API's.
	"account_not_found":           "Account not found",
	"email_taken":                 "Address taken by another account",
	"id_taken":                    "Account id taken",
	"invalid_user_id":             "Invalid account id",
	"invalid_password_hash":       "Invalid password hash",
	"invalid_locale":              "Unsupported locale",
	"invalid_password_changed_at": "Invalid password_changed_at",
	"invalid_cursor":              "Invalid cursor",
	"invalid_limit":               "Invalid page size",
	"invalid_query":               "Invalid query parameter",
	"invalid_client_ip":           "Invalid client IP",
	"too_many_lines":              "Too many lines",
}

func titleOf(code string, status int) string {
	if t, ok := titles[code]; ok {
		return t
	}
	if strings.HasPrefix(code, "password_") {
		return "New password rejected by the password policy"
	}
	return http.StatusText(status)
}
