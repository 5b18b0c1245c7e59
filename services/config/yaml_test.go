package config

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// goWords are what yaml.v3's own messages say: Go field and type names and
// YAML tags, which nobody who edits config.yaml should have to read.
var goWords = regexp.MustCompile(`field |in type|config\.[A-Z]|!!|unmarshal|into (int|bool|string|uint|time|\[\])`)

// TestYAMLProblemsNameTheKey: a problem in config.yaml is named by its
// dotted key and line, as config.yaml and the other messages spell keys,
// never by a Go type, and an unknown key comes with the nearest known one.
func TestYAMLProblemsNameTheKey(t *testing.T) {
	t.Parallel()
	rows := []struct {
		name string
		doc  string
		want []string // each must appear in the error
	}{
		{"a typo names the nearest key", "http:\n  adr: \":9090\"\n",
			[]string{"config.yaml:2: unknown key http.adr; did you mean http.addr?"}},
		{"a typo of a section", "mial:\n  provider: smtp\n",
			[]string{"config.yaml:1: unknown key mial; did you mean mail?"}},
		{"a nested key", "mail:\n  smtp:\n    hots: smtp.example.org\n",
			[]string{"config.yaml:3: unknown key mail.smtp.hots; did you mean mail.smtp.host?"}},
		{"a key of another section", "mail:\n  level: debug\n",
			[]string{"config.yaml:2: unknown key mail.level; did you mean log.level?"}},
		{"nothing close gets no guess", "limits:\n  completely_different: 1\n",
			[]string{"config.yaml:2: unknown key limits.completely_different (config.yaml in the repository lists every key)"}},
		{"a secret is never read from the file", "database:\n  url: postgres://db/x\n",
			[]string{"config.yaml:2: database.url is a secret: set ACCOUNTPW_DATABASE_URL in the environment, never in a file"}},
		{"an inline section's keys are known", "password:\n  argon2_tme: 2\n",
			[]string{"config.yaml:2: unknown key password.argon2_tme; did you mean password.argon2_time?"}},
		{"a word for a number", "mail:\n  workers: four\n",
			[]string{`config.yaml:2: mail.workers must be a whole number, got "four"`}},
		{"a number out of range", "password:\n  argon2_threads: 300\n",
			[]string{`config.yaml:2: password.argon2_threads must be a whole number from 0 to 255, got "300"`}},
		{"a bad duration", "reset:\n  token_ttl: soon\n",
			[]string{`config.yaml:2: reset.token_ttl must be a duration such as 30s, 15m or 1h, got "soon"`}},
		{"a bad boolean", "limits:\n  disabled: maybe\n",
			[]string{`config.yaml:2: limits.disabled must be true or false, got "maybe"`}},
		{"a string for a list", "http:\n  trusted_proxies: 10.0.0.0/8\n",
			[]string{`config.yaml:2: http.trusted_proxies must be a list, like [a, b], got "10.0.0.0/8"`}},
		{"a list for a string", "log:\n  level: [debug]\n",
			[]string{"config.yaml:2: log.level must be a string, got a list"}},
		{"a section that is not a mapping", "http: [1, 2]\n",
			[]string{"config.yaml:1: http must be a mapping of keys, got a list"}},
		{"a file that is not a mapping", "- http\n",
			[]string{"config.yaml:1: the file must be a mapping of sections, got a list"}},
		{"two keys on one line are told apart", "mail: {workers: 5, retry_cap: never}\n",
			[]string{`config.yaml:1: mail.retry_cap must be a duration`}},
		{"a key twice", "log:\n  level: info\n  level: debug\n",
			[]string{"config.yaml:3: log.level appears twice (first on line 2)"}},
		{"every problem at once", "http:\n  adr: x\nmail:\n  workers: four\n",
			[]string{"unknown key http.adr", "mail.workers must be a whole number"}},
		{"a merge key's keys are checked", "x: &d {adr: 1}\n",
			[]string{"unknown key x"}},
		{"through a merge", "defaults: &d\n  level: info\nlog:\n  <<: *d\n  levle: debug\n",
			[]string{"unknown key defaults", "config.yaml:5: unknown key log.levle; did you mean log.level?"}},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			_, err := load("config.yaml", []byte(r.doc), nil)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range r.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if goWords.MatchString(err.Error()) {
				t.Errorf("error %q names Go or YAML internals (%q) instead of the key", err, goWords.FindString(err.Error()))
			}
		})
	}
}

// TestYAMLStillLoads: what the file says still applies, merges and
// anchors included, and an empty file or section is fine.
func TestYAMLStillLoads(t *testing.T) {
	t.Parallel()
	doc := "x-none: null\n"
	if _, err := load("config.yaml", []byte(doc), nil); err == nil || !strings.Contains(err.Error(), "unknown key x-none") {
		t.Errorf("got %v, want the unknown key", err)
	}
	for _, doc := range []string{"", "# nothing\n", "http:\n", "mail: {}\n"} {
		if _, err := load("config.yaml", []byte(doc), nil); err != nil {
			t.Errorf("%q: %v", doc, err)
		}
	}
	c, err := load("config.yaml", []byte("limits: &l\n  change_failures: 7\nreset:\n  token_ttl: 20m\npassword: {argon2_time: 4}\nmail:\n  smtp: {port: 2525}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.ChangeFailures != 7 || c.Reset.TokenTTL != 20*time.Minute || c.Password.Time != 4 || c.Mail.SMTP.Port != 2525 {
		t.Errorf("got %d, %s, %d, %d; want 7, 20m, 4, 2525", c.Limits.ChangeFailures, c.Reset.TokenTTL, c.Password.Time, c.Mail.SMTP.Port)
	}
}
