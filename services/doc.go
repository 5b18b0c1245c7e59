// Package services holds the business operations of accountpw and their
// adapters: the database and its migrations, argon2id hashing, reset tokens,
// bearer sessions, the durable mail queue and its mailers, the password
// policy and the rate limits.
//
// It never imports echo or handlers: HTTP is the handlers package's concern,
// and services speak only in models types and models errors.
package services
