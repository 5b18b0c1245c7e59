// Package models holds the domain types of accountpw (accounts, reset tokens,
// sessions, outgoing messages), the error vocabulary shared by every layer, and
// the pure rules that need no I/O: email syntax and lookup keys, and the
// length and character rules of the password policy.
//
// It imports only the standard library and golang.org/x/text so that the rules
// can be tested without a database, a web framework or a clock.
package models
