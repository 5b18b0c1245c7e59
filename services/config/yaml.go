package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// decodeYAML reads doc (named name in messages) over c. Before anything is
// decoded, the document is walked against Config's yaml tags, so that every
// problem is reported the way config.yaml spells it, "name:line: key …", and
// all of them at once: an unknown key with the nearest known one, a secret
// put in the file, a value of the wrong type, a key given twice. yaml.v3's
// own messages name Go fields and types ("field adr not found in type
// config.HTTP"), which nobody editing the file should have to translate.
//
// The walk only judges; the decode itself is still yaml.v3's, so anchors,
// merges and every scalar form mean what YAML says they mean.
func decodeYAML(name string, doc []byte, c *Config) []error {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		// A syntax error: yaml.v3 names its line, and there is no key yet.
		return []error{fmt.Errorf("%s: %w", name, err)}
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil // an empty file, or only comments
	}
	w := yamlWalk{name: name}
	w.mapping(root.Content[0], reflect.TypeFor[Config](), "", EnvPrefix)
	err := root.Decode(c)
	var typeErr *yaml.TypeError
	switch {
	case err == nil:
	case len(w.problems) > 0 && errors.As(err, &typeErr):
		// The walk has said it better.
	default:
		w.problems = append(w.problems, fmt.Errorf("%s: %w", name, err))
	}
	return w.problems
}

// yamlWalk collects the problems of one document.
type yamlWalk struct {
	name     string
	problems []error
}

func (w *yamlWalk) add(n *yaml.Node, format string, a ...any) {
	w.problems = append(w.problems, fmt.Errorf("%s:%d: %s", w.name, n.Line, fmt.Sprintf(format, a...)))
}

// yamlField is one key a section accepts: its Go type, and its environment
// name when it is a secret (yaml:"-"), which the file may not hold.
type yamlField struct {
	typ       reflect.Type
	envPrefix string // of a section
	secretEnv string // of a secret
}

// yamlFields lists the keys of section type t, with ",inline" structs
// flattened into it as yaml.v3 does.
func yamlFields(t reflect.Type, envPrefix string, out map[string]yamlField) {
	for f := range t.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		envName, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		switch {
		case opts == "inline":
			yamlFields(f.Type, envPrefix+f.Tag.Get("envPrefix"), out)
		case name == "-":
			out[strings.ToLower(envName)] = yamlField{typ: f.Type, secretEnv: envPrefix + envName}
		case name != "":
			out[name] = yamlField{typ: f.Type, envPrefix: envPrefix + f.Tag.Get("envPrefix")}
		}
	}
}

// resolve follows an alias to what it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// mapping checks node as the section of type t at path ("" for the file,
// else "mail.smtp."). The recursion follows t, which is finite, so an alias
// that refers to itself cannot make it loop.
func (w *yamlWalk) mapping(node *yaml.Node, t reflect.Type, path, envPrefix string) {
	node = resolve(node)
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		return // "http:" with nothing under it changes nothing
	}
	if node.Kind != yaml.MappingNode {
		if path == "" {
			w.add(node, "the file must be a mapping of sections, got %s", describe(node))
		} else {
			w.add(node, "%s must be a mapping of keys, got %s", strings.TrimSuffix(path, "."), describe(node))
		}
		return
	}
	fields := map[string]yamlField{}
	yamlFields(t, envPrefix, fields)
	seen := map[string]int{}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		if k.Tag == "!!merge" {
			// "<<: *defaults" (or a list of them): their keys are this section's.
			v = resolve(v)
			if v.Kind == yaml.SequenceNode {
				for _, m := range v.Content {
					w.mapping(m, t, path, envPrefix)
				}
			} else {
				w.mapping(v, t, path, envPrefix)
			}
			continue
		}
		key := path + k.Value
		if first, dup := seen[k.Value]; dup {
			w.add(k, "%s appears twice (first on line %d)", key, first)
			continue
		}
		seen[k.Value] = k.Line
		f, ok := fields[k.Value]
		switch {
		case !ok:
			w.add(k, "unknown key %s%s", key, suggestKey(path, k.Value, fields))
		case f.secretEnv != "":
			w.add(k, "%s is a secret: set %s in the environment, never in a file", key, f.secretEnv)
		case f.typ.Kind() == reflect.Struct:
			w.mapping(v, f.typ, key+".", f.envPrefix)
		default:
			if err := v.Decode(reflect.New(f.typ).Interface()); err != nil {
				w.add(v, "%s must be %s, got %s", key, want(f.typ), describe(v))
			}
		}
	}
}

// suggestKey is "; did you mean KEY?" for the known key nearest to name in
// this section (within a third of its length in edits, at least 2), else
// for a key of that name in another section, else a pointer to the list.
func suggestKey(path, name string, fields map[string]yamlField) string {
	best, bestDist := "", -1
	for k, f := range fields {
		if f.secretEnv != "" {
			continue
		}
		if d := editDistance(name, k); bestDist < 0 || d < bestDist || (d == bestDist && k < best) {
			best, bestDist = k, d
		}
	}
	if bestDist >= 0 && bestDist <= max(2, len(name)/3) {
		return "; did you mean " + path + best + "?"
	}
	for _, v := range Variables() {
		if v.Key != "" && (v.Key == name || strings.HasSuffix(v.Key, "."+name)) {
			return "; did you mean " + v.Key + "?"
		}
	}
	return " (config.yaml in the repository lists every key)"
}

// want says what a value of type t looks like, in the words of config.yaml.
func want(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "a duration such as 30s, 15m or 1h"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.Int:
		return "a whole number"
	case t.Kind() >= reflect.Int8 && t.Kind() <= reflect.Int64:
		lim := int64(1)<<(t.Bits()-1) - 1
		return fmt.Sprintf("a whole number from %d to %d", -lim-1, lim)
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		lim := uint64(math.MaxUint64) >> (64 - t.Bits())
		return fmt.Sprintf("a whole number from 0 to %d", lim)
	case t.Kind() == reflect.Slice:
		return "a list, like [a, b]"
	case t.Kind() == reflect.String:
		return "a string"
	}
	return "a " + t.Kind().String()
}

// describe names what node holds: a scalar quoted (cut short), else its
// shape. config.yaml holds no secrets, so echoing a scalar is safe.
func describe(n *yaml.Node) string {
	n = resolve(n)
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	v := n.Value
	if utf8.RuneCountInString(v) > 40 {
		v = string([]rune(v)[:40]) + "…"
	}
	return fmt.Sprintf("%q", v)
}
