// Package config is the one source of truth for accountpw's settings: one
// typed section per concern (HTTP, database, reset, mail, auth, password,
// limits, log, webhook, metrics), each with its defaults as named constants
// and its own Validate. Load reads the defaults, then config.yaml (unknown
// keys are an error), then ACCOUNTPW_* environment variables, and reports
// every problem together.
//
// The constructors of the other packages take these sections (or values
// derived from them by the methods here) and never fill in defaults of their
// own; every rule a constructor enforces is a function here or in models that
// Validate calls too, so a configuration that loads never fails later.
//
// It imports only models, the standard library and the YAML and environment
// decoders; every other package of services may import it.
package config
