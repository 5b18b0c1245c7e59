package config

import (
	"errors"
	"fmt"
	"os"
)

// EnvPrefix starts every environment variable of accountpw.
const EnvPrefix = "ACCOUNTPW_"

// DefaultFile is the configuration file read when none is named; it may be
// missing.
const DefaultFile = "config.yaml"

// Load reads path over the defaults, then the ACCOUNTPW_* variables of
// environ ("NAME=value" entries, as os.Environ returns them), then validates
// the result. A missing path is fine unless explicit is set. An unknown
// ACCOUNTPW_* variable is a problem like an unknown YAML key. Every problem
// is reported together, joined into one error.
func Load(path string, explicit bool, environ []string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		b = nil
		if explicit || !errors.Is(err, os.ErrNotExist) {
			c, lerr := load(path, nil, environ)
			return c, errors.Join(fmt.Errorf("config: %w", err), lerr)
		}
	}
	return load(path, b, environ)
}

// load is Load once the file is read: yamlDoc (nil when there is no file,
// named name in messages) over the defaults, then environ, then Validate.
func load(name string, yamlDoc []byte, environ []string) (Config, error) {
	c := Default()
	var problems []error
	if yamlDoc != nil {
		problems = append(problems, decodeYAML(name, yamlDoc, &c)...)
	}
	problems = append(problems, applyEnv(&c, environ)...)
	if err := c.Validate(); err != nil {
		problems = append(problems, err)
	}
	return c, errors.Join(problems...)
}
