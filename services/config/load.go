package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/caarlos0/env/v11"
	"go.yaml.in/yaml/v3"
)

// EnvPrefix starts every environment variable of accountpw.
const EnvPrefix = "ACCOUNTPW_"

// DefaultFile is the configuration file read when none is named; it may be
// missing.
const DefaultFile = "config.yaml"

// Load reads path over the defaults, then the environment (through getenv),
// then validates the result. A missing path is fine unless explicit is set.
// Every problem is reported together, joined into one error.
func Load(path string, explicit bool, getenv func(string) string) (Config, error) {
	c := Default()
	var problems []error
	if b, err := os.ReadFile(path); err == nil {
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			problems = append(problems, fmt.Errorf("%s: %w", path, err))
		}
	} else if explicit || !errors.Is(err, os.ErrNotExist) {
		problems = append(problems, fmt.Errorf("config: %w", err))
	}
	opts := env.Options{Prefix: EnvPrefix, Environment: map[string]string{}}
	params, err := env.GetFieldParamsWithOptions(&c, opts)
	if err != nil {
		return c, err
	}
	for _, p := range params {
		if v := getenv(p.Key); v != "" {
			opts.Environment[p.Key] = v
		}
	}
	if err := env.ParseWithOptions(&c, opts); err != nil {
		problems = append(problems, err)
	}
	if err := c.Validate(); err != nil {
		problems = append(problems, err)
	}
	return c, errors.Join(problems...)
}
