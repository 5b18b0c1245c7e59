// Package models holds the domain types of accountpw (accounts, reset tokens,
// sessions, outgoing messages), the error vocabulary shared by every layer, and
// the pure rules that need no I/O: email syntax and lookup keys, the shape of
// account ids (ValidateUserID), the length and character rules of the
// password policy, and the languages accountpw writes in with the rule that
// picks one (Languages, from Accept-Language or an account's locale).
//
// It imports only the standard library and golang.org/x/text so that the rules
// can be tested without a database, a web framework or a clock.
package models
