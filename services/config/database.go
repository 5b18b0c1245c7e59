package config

import (
	"errors"
	"strings"
)

// Defaults of the database section.
const (
	// DefaultSQLitePath is the embedded default database, relative to the
	// working directory.
	DefaultSQLitePath = "data/accountpw.db"
	DefaultMigrate    = true
)

// Database says where the accounts live: PostgreSQL when URL is set, else the
// embedded SQLite file at Path.
type Database struct {
	URL     string `yaml:"-" env:"URL"` // may carry a password
	Path    string `yaml:"path" env:"PATH"`
	Migrate bool   `yaml:"migrate" env:"MIGRATE"`
}

// DefaultDatabase returns the database section's defaults.
func DefaultDatabase() Database {
	return Database{Path: DefaultSQLitePath, Migrate: DefaultMigrate}
}

// Postgres reports whether URL names a PostgreSQL database.
func (d Database) Postgres() bool {
	return strings.HasPrefix(d.URL, "postgres://") || strings.HasPrefix(d.URL, "postgresql://")
}

// Validate checks the section.
func (d Database) Validate() error {
	var p problems
	if d.URL != "" && !d.Postgres() {
		p = append(p, errors.New("ACCOUNTPW_DATABASE_URL must start with postgres:// or postgresql:// (leave it empty for the embedded SQLite file)"))
	}
	if d.URL == "" && strings.TrimSpace(d.Path) == "" {
		p.add("database.path must name the SQLite file when ACCOUNTPW_DATABASE_URL is empty")
	}
	return p.err()
}
