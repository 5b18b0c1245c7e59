package models

import (
	"errors"
	"time"
)

// Kind classifies an error by what the client can do about it. handlers maps
// each Kind to exactly one HTTP status; nothing else in the code base knows
// about status codes.
type Kind int

// The kinds of error. KindInternal is the zero value on purpose: an error that
// nobody classified is a server fault, never a client one.
const (
	KindInternal         Kind = iota // 500: a bug or an unexpected failure
	KindInvalid                      // 400: the request is malformed
	KindUnauthorized                 // 401: no valid bearer session
	KindForbidden                    // 403: credentials (token, old password) refused
	KindNotFound                     // 404: no such route
	KindMethodNotAllowed             // 405
	KindTooLarge                     // 413
	KindUnsupportedMedia             // 415
	KindPolicy                       // 422: the new password breaks the policy
	KindRateLimited                  // 429
	KindUnavailable                  // 503: a dependency or the hashing capacity is exhausted
	KindConflict                     // 409: the admin API's write collides with another account
	KindRequestTimeout               // 408: the client stopped sending its request before it was complete
)

// Error is an outcome a client can act on. Code is the stable machine-readable
// name that API clients switch on, Message is safe to show to a person, and
// neither ever contains a submitted secret or address.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	// Field names the offending request member, if there is one.
	Field string
	// RetryAfter, when positive, is sent as the Retry-After header.
	RetryAfter time.Duration
	// reason tells apart errors that clients see as one code (a stale
	// session is "unauthenticated" to the client) but callers must not
	// confuse; it is never sent.
	reason string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is reports whether target is an *Error with the same Code, so that a copy
// carrying a Field or a RetryAfter still matches its sentinel. A target with
// a reason matches only errors with that reason: errors.Is(err,
// ErrStaleSession) is false for a plain ErrUnauthenticated, while a stale
// session still is unauthenticated.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code && (t.reason == "" || t.reason == e.reason)
}

// RateLimited returns a 429-kind error that tells the client when to retry.
// after is rounded up to whole seconds, never below one.
func RateLimited(after time.Duration) *Error {
	if after < time.Second {
		after = time.Second
	}
	after = (after + time.Second - 1).Truncate(time.Second)
	return &Error{Kind: KindRateLimited, Code: "rate_limited", RetryAfter: after,
		Message: "Too many requests. Wait for the time given in Retry-After, then try again."}
}

// Sentinels returned by the services. Match them with errors.Is.
var (
	// ErrInvalidBody covers every malformed body: bad JSON, wrong member set,
	// unknown, duplicate or case-variant members, non-string values, bad UTF-8.
	ErrInvalidBody = &Error{Kind: KindInvalid, Code: "invalid_body",
		Message: `The body must be a JSON object with exactly one of {"email"}, {"token","new"} or {"old","new"}, each a non-empty string.`}
	// ErrQueryNotAllowed is returned when the request URL has a query string;
	// secrets belong in the body, never in a URL.
	ErrQueryNotAllowed = &Error{Kind: KindInvalid, Code: "query_not_allowed",
		Message: "This resource takes no query parameters; send every value in the JSON body."}
	// ErrInvalidEmail is returned for an address that fails the syntax rules.
	ErrInvalidEmail = &Error{Kind: KindInvalid, Code: "invalid_email", Field: "email",
		Message: "The email address is not valid."}
	// ErrInvalidToken is the single answer for every unusable reset token:
	// unknown, malformed, expired, used or superseded look the same.
	ErrInvalidToken = &Error{Kind: KindForbidden, Code: "invalid_token", Field: "token",
		Message: "This reset link is invalid or has expired. Request a new one."}
	// ErrWrongPassword is returned when {old,new} carries a wrong old password.
	ErrWrongPassword = &Error{Kind: KindForbidden, Code: "wrong_password", Field: "old",
		Message: "The current password is not correct."}
	// ErrUnauthenticated is returned when {old,new} comes without a valid
	// bearer session.
	ErrUnauthenticated = &Error{Kind: KindUnauthorized, Code: "unauthenticated",
		Message: "A valid bearer token is required."}
	// ErrStaleSession is returned for a bearer token issued before the
	// account's last password change. Clients see it as ErrUnauthenticated;
	// errors.Is tells the two apart (see Error.Is).
	ErrStaleSession = &Error{Kind: KindUnauthorized, Code: "unauthenticated", reason: "stale_session",
		Message: "A valid bearer token is required."}
	// ErrHashBusy is returned when no hashing slot frees up in time.
	ErrHashBusy = &Error{Kind: KindUnavailable, Code: "busy", RetryAfter: time.Second,
		Message: "The service is busy. Try again shortly."}
	// ErrUnavailable is returned when a dependency (the database) is down.
	ErrUnavailable = &Error{Kind: KindUnavailable, Code: "unavailable", RetryAfter: 5 * time.Second,
		Message: "The service is temporarily unavailable. Try again shortly."}
)

// KindOf returns the Kind of err, KindInternal for an unclassified error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}
