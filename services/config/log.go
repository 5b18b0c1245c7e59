package config

import (
	"fmt"
	"log/slog"
)

// DefaultLogLevel is the default log.level.
const DefaultLogLevel = "info"

// Log configures logging.
type Log struct {
	Level string `yaml:"level" env:"LEVEL"`
	// PseudonymKey keys the email pseudonyms in logs; empty means one
	// derived from the JWT secret.
	PseudonymKey string `yaml:"-" env:"PSEUDONYM_KEY"`
}

// DefaultLog returns the log section's defaults.
func DefaultLog() Log { return Log{Level: DefaultLogLevel} }

// Validate checks the section.
func (l Log) Validate() error {
	_, err := l.SlogLevel()
	return err
}

// SlogLevel parses Level.
func (l Log) SlogLevel() (slog.Level, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(l.Level)); err != nil {
		return lv, fmt.Errorf("log.level must be debug, info, warn or error, got %q", l.Level)
	}
	return lv, nil
}
