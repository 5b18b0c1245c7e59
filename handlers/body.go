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

// readBody checks the headers and reads the body of a password request. The
// order is: a declared Content-Length over the cap (413), then the media type
// (415), then reading at most maxBody bytes (413 for an undeclared, chunked
// overflow). Header checks come first so that no byte of a body that will be
// refused is ever read; a too-large declaration wins over a wrong type because
// the size alone already settles the answer.
//
// The whole body must arrive within the given time (408 body_timeout): a
// client that stops sending is the client's fault, and without a deadline of
// its own the read would wait for the server's read timeout, past the
// request's, and the answer would be a 503 that blames the service.
func readBody(c echo.Context, within time.Duration) ([]byte, error) {
	r := c.Request()
	if r.ContentLength > maxBody {
		return nil, errTooLarge
	}
	if !isJSON(r.Header.Values(echo.HeaderContentType)) {
		return nil, errUnsupportedMedia
	}
	// Without a connection under the writer (a test's recorder) there is no
	// deadline to set, and nothing to wait for either.
	rc := http.NewResponseController(c.Response())
	deadline := rc.SetReadDeadline(time.Now().Add(within)) == nil
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, maxBody))
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
		return nil, errTooLarge
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
func isJSON(values []string) bool {
	if len(values) != 1 {
		return false
	}
	mediaType, params, err := mime.ParseMediaType(values[0])
	if err != nil || mediaType != echo.MIMEApplicationJSON {
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
