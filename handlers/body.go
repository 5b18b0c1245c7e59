package handlers

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/accountpw/accountpw/models"
)

// maxBody is the largest body the password resource reads: two 128-code-point
// passwords written entirely as \uXXXX escapes still fit.
const maxBody = 8192

// bodyRule is what a route accepts as a body: at most limit bytes of a
// media type accepts allows, and the errors that answer anything else.
type bodyRule struct {
	limit       int64
	accepts     func(contentTypes []string) bool
	tooLarge    *models.Error
	unsupported *models.Error
}

// passwordBodyRule is the password resource's rule: JSON, at most maxBody.
var passwordBodyRule = bodyRule{limit: maxBody, accepts: isJSON, tooLarge: errTooLarge, unsupported: errUnsupportedMedia}

// readBody checks the headers and reads the body of a password request.
func readBody(c echo.Context, within time.Duration) ([]byte, error) {
	return readBodyOf(c, passwordBodyRule, within)
}

// readBodyOf checks the headers and reads a body under rule. The order is:
// a declared Content-Length over the cap (413), then the media type (415),
// then reading at most the cap (413 for an undeclared, chunked overflow).
// Header checks come first so that no byte of a body that will be refused
// is ever read; a too-large declaration wins over a wrong type because the
// size alone already settles the answer.
//
// The whole body must arrive within the given time (408 body_timeout): a
// client that stops sending is the client's fault, and without a deadline of
// its own the read would wait for the server's read timeout, past the
// request's, and the answer would be a 503 that blames the service.
func readBodyOf(c echo.Context, rule bodyRule, within time.Duration) ([]byte, error) {
	r := c.Request()
	if r.ContentLength > rule.limit {
		return nil, rule.tooLarge
	}
	if !rule.accepts(r.Header.Values(echo.HeaderContentType)) {
		return nil, rule.unsupported
	}
	// Without a connection under the writer (a test's recorder) there is no
	// deadline to set, and nothing to wait for either.
	rc := http.NewResponseController(c.Response())
	deadline := rc.SetReadDeadline(time.Now().Add(within)) == nil
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, rule.limit))
	if deadline && err == nil {
		// No deadline once the body is in: net/http keeps reading the
		// connection to notice a client that leaves, and a deadline that
		// passed there would cancel a request still being worked on. After
		// a failed read it stays: net/http would otherwise wait for the
		// rest of the body before it closes the connection.
		_ = rc.SetReadDeadline(time.Time{})
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, rule.tooLarge
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, errBodyTimeout
	case err != nil:
		// A short or broken body is the client's fault, never a 500.
		return nil, models.ErrInvalidBody
	}
	return body, nil
}

// isJSON accepts exactly one Content-Type of application/json whose only
// parameter, if any, is charset=utf-8 (both case-insensitive).
func isJSON(values []string) bool { return isMediaType(values, echo.MIMEApplicationJSON) }

// isMediaType accepts exactly one Content-Type of want whose only
// parameter, if any, is charset=utf-8 (both case-insensitive).
func isMediaType(values []string, want string) bool {
	if len(values) != 1 {
		return false
	}
	mediaType, params, err := mime.ParseMediaType(values[0])
	if err != nil || mediaType != want {
		return false
	}
	switch len(params) {
	case 0:
		return true
	case 1:
		return strings.EqualFold(params["charset"], "utf-8")
	}
	return false
}
