package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/caarlos0/env/v11"
)

// Variable is one environment variable the loader reads.
type Variable struct {
	// Name is the variable, e.g. ACCOUNTPW_HTTP_ADDR.
	Name string
	// Key is the same setting in config.yaml, e.g. http.addr; empty for a
	// secret, which only the environment may hold.
	Key string
}

// Variables lists every environment variable Load reads, in the order of
// Config's fields. The names come from caarlos0/env itself, so the list is
// exactly what it parses; only the YAML key beside each is worked out here.
func Variables() []Variable { return variables() }

var variables = sync.OnceValue(func() []Variable {
	params, err := env.GetFieldParamsWithOptions(&Config{}, env.Options{Prefix: EnvPrefix})
	if err != nil {
		panic(fmt.Sprintf("config: the env tags of Config do not parse: %v", err))
	}
	keys := map[string]string{}
	yamlKeys(reflect.TypeFor[Config](), EnvPrefix, "", keys)
	out := make([]Variable, 0, len(params))
	for _, p := range params {
		key, ok := keys[p.Key]
		if !ok {
			panic("config: no YAML key found for " + p.Key + "; keep the env and yaml tags of Config parallel")
		}
		out = append(out, Variable{Name: p.Key, Key: key})
	}
	return out
})

// yamlKeys maps each environment name under t to its YAML key ("" for a
// field tagged yaml:"-"), following the same envPrefix nesting that
// caarlos0/env follows and yaml's ",inline".
func yamlKeys(t reflect.Type, envPrefix, yamlPrefix string, out map[string]string) {
	for f := range t.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		path := yamlPrefix + name
		if f.Type.Kind() == reflect.Struct {
			if opts == "inline" {
				path = strings.TrimSuffix(yamlPrefix, ".")
			}
			sub := path + "."
			if path == "" {
				sub = ""
			}
			yamlKeys(f.Type, envPrefix+f.Tag.Get("envPrefix"), sub, out)
			continue
		}
		envName, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if envName == "" {
			continue
		}
		if name == "-" {
			path = ""
		}
		out[envPrefix+envName] = path
	}
}

// applyEnv sets c from the ACCOUNTPW_* entries of environ ("NAME=value", as
// os.Environ gives them) and returns one problem per unknown or unparsable
// variable. An empty value counts as unset, as with getenv. Unknown names
// are refused because a mistyped variable would otherwise be ignored in
// silence, and the service would run with a setting nobody chose.
func applyEnv(c *Config, environ []string) []error {
	vars := Variables()
	known := make(map[string]bool, len(vars))
	for _, v := range vars {
		known[v.Name] = true
	}
	var problems []error
	values := map[string]string{}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		switch {
		case !strings.HasPrefix(name, EnvPrefix):
		case !known[name]:
			problems = append(problems, unknownVariable(name, vars))
		case value != "":
			values[name] = value
		}
	}
	// One variable at a time: env's ParseError names the Go field (and
	// Timeout, BaseURL… exist in several sections), so parsing each
	// variable alone is what ties an error to the variable that caused it.
	for _, v := range vars {
		value, ok := values[v.Name]
		if !ok {
			continue
		}
		opts := env.Options{Prefix: EnvPrefix, Environment: map[string]string{v.Name: value}}
		if err := env.ParseWithOptions(c, opts); err != nil {
			problems = append(problems, parseProblem(v, err))
		}
	}
	return problems
}

// parseProblem names the variable and its YAML key, then the parser's own
// words ("time: invalid duration \"x\""), without env's wrapping, which
// names a Go field nobody configures. A secret's value is never echoed.
func parseProblem(v Variable, err error) error {
	cause := err
	var pe env.ParseError
	if errors.As(err, &pe) {
		cause = pe.Err
		var pve env.ParseValueError
		if errors.As(cause, &pve) {
			cause = pve.Err
		}
	}
	if v.Key == "" {
		return fmt.Errorf("%s: the value cannot be parsed", v.Name)
	}
	return fmt.Errorf("%s (%s): %w", v.Name, v.Key, cause)
}

// unknownVariable names the nearest known variable when it is close enough
// to be a typo: within a third of the name's length in edits, at least 2.
func unknownVariable(name string, vars []Variable) error {
	best, bestDist := "", -1
	for _, v := range vars {
		if d := editDistance(name, v.Name); bestDist < 0 || d < bestDist {
			best, bestDist = v.Name, d
		}
	}
	if bestDist >= 0 && bestDist <= max(2, len(strings.TrimPrefix(name, EnvPrefix))/3) {
		return fmt.Errorf("unknown variable %s; did you mean %s?", name, best)
	}
	return fmt.Errorf("unknown variable %s (config.yaml lists every %s variable)", name, EnvPrefix)
}

// editDistance is the Levenshtein distance between a and b, in bytes
// (variable names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
