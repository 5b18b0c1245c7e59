package config

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestVariablesFollowTheNamingRule(t *testing.T) {
	t.Parallel()
	vars := Variables()
	if len(vars) < 50 {
		t.Fatalf("only %d variables: the walk over Config lost some", len(vars))
	}
	seen := map[string]bool{}
	for _, v := range vars {
		if seen[v.Name] || (v.Key != "" && seen[v.Key]) {
			t.Errorf("%s (%s) appears twice", v.Name, v.Key)
		}
		seen[v.Name], seen[v.Key] = true, v.Key != ""
		// config.yaml's header states this rule; a field whose env and
		// yaml tags disagree would break it.
		if want := EnvPrefix + strings.ToUpper(strings.ReplaceAll(v.Key, ".", "_")); v.Key != "" && v.Name != want {
			t.Errorf("%s has the key %s, whose environment name would be %s", v.Name, v.Key, want)
		}
	}
	for _, secret := range []string{"ACCOUNTPW_DATABASE_URL", "ACCOUNTPW_AUTH_JWT_SECRET", "ACCOUNTPW_MAIL_SENDGRID_API_KEY",
		"ACCOUNTPW_MAIL_SMTP_PASSWORD", "ACCOUNTPW_PASSWORD_PEPPER", "ACCOUNTPW_PASSWORD_OLD_PEPPERS", "ACCOUNTPW_LOG_PSEUDONYM_KEY",
		"ACCOUNTPW_RESET_TOKEN_KEY"} {
		if !slicesHasSecret(vars, secret) {
			t.Errorf("%s must be a known variable without a YAML key", secret)
		}
	}
}

func slicesHasSecret(vars []Variable, name string) bool {
	for _, v := range vars {
		if v.Name == name {
			return v.Key == ""
		}
	}
	return false
}

// yamlKeyLine matches a key line of config.yaml: indentation, key, colon.
var yamlKeyLine = regexp.MustCompile(`^( *)([a-z0-9_]+):`)

// TestConfigYAMLNamesEveryVariable keeps config.yaml and the loader from
// drifting apart: the line of every key names its environment variable,
// every secret is named somewhere, and the file states the defaults.
func TestConfigYAMLNamesEveryVariable(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]string{} // key path → its line
	var path []string
	for line := range strings.Lines(string(b)) {
		m := yamlKeyLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		depth := len(m[1]) / 2
		path = append(path[:min(depth, len(path))], m[2])
		lines[strings.Join(path, ".")] = line
	}
	for _, v := range Variables() {
		if v.Key == "" {
			if !strings.Contains(string(b), v.Name) {
				t.Errorf("config.yaml does not mention the secret %s", v.Name)
			}
			continue
		}
		line, ok := lines[v.Key]
		switch {
		case !ok:
			t.Errorf("config.yaml has no line for %s", v.Key)
		case !strings.Contains(line, "# "+v.Name):
			t.Errorf("the line of %s in config.yaml does not name %s: %q", v.Key, v.Name, line)
		}
	}
	c, err := Load("../../config.yaml", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Compared as text: the file's [] and the defaults' nil slices are the same setting.
	if got, want := fmt.Sprintf("%+v", c), fmt.Sprintf("%+v", Default()); got != want {
		t.Errorf("config.yaml must show the defaults:\n got %s\nwant %s", got, want)
	}
}

// TestDocsListEveryVariable keeps docs/configuration.md's table
// complete: every variable the loader reads is a row of its own.
func TestDocsListEveryVariable(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Variables() {
		if !strings.Contains(string(b), "| `"+v.Name+"` |") {
			t.Errorf("docs/configuration.md has no row for %s", v.Name)
		}
	}
}

func TestEnvironmentProblemsNameTheVariable(t *testing.T) {
	t.Parallel()
	rows := []struct {
		name    string
		environ []string
		want    []string // each must appear in the error
	}{
		{"a typo names the nearest variable", []string{"ACCOUNTPW_HTTP_ADRR=:9090"},
			[]string{"unknown variable ACCOUNTPW_HTTP_ADRR; did you mean ACCOUNTPW_HTTP_ADDR?"}},
		{"a missing section letter", []string{"ACCOUNTPW_MAIL_SENDGRD_API_KEY=x"},
			[]string{"did you mean ACCOUNTPW_MAIL_SENDGRID_API_KEY?"}},
		{"nothing close gets no guess", []string{"ACCOUNTPW_COMPLETELY_DIFFERENT_THING=1"},
			[]string{"unknown variable ACCOUNTPW_COMPLETELY_DIFFERENT_THING (config.yaml lists every ACCOUNTPW_ variable)"}},
		{"an unknown variable counts even when empty", []string{"ACCOUNTPW_LOG_LEVL="},
			[]string{"did you mean ACCOUNTPW_LOG_LEVEL?"}},
		{"a bad duration", []string{"ACCOUNTPW_HTTP_SHUTDOWN_TIMEOUT=x"},
			[]string{`ACCOUNTPW_HTTP_SHUTDOWN_TIMEOUT (http.shutdown_timeout): time: invalid duration "x"`}},
		{"fields of one name in two sections", []string{"ACCOUNTPW_MAIL_SMTP_TIMEOUT=soon", "ACCOUNTPW_MAIL_SENDGRID_TIMEOUT=10s"},
			[]string{`ACCOUNTPW_MAIL_SMTP_TIMEOUT (mail.smtp.timeout): time: invalid duration "soon"`}},
		{"a bad number and a bad boolean together", []string{"ACCOUNTPW_MAIL_WORKERS=four", "ACCOUNTPW_LIMITS_DISABLED=maybe"},
			[]string{"ACCOUNTPW_MAIL_WORKERS (mail.workers): strconv.ParseInt", "ACCOUNTPW_LIMITS_DISABLED (limits.disabled): strconv.ParseBool"}},
		{"a number out of range", []string{"ACCOUNTPW_PASSWORD_ARGON2_THREADS=300"},
			[]string{"ACCOUNTPW_PASSWORD_ARGON2_THREADS (password.argon2_threads):", "value out of range"}},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			_, err := load("none", nil, append([]string{"PATH=/bin", "ACCOUNTPWX=1"}, r.environ...))
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range r.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "field") {
				t.Errorf("error %q names a Go field instead of the variable", err)
			}
		})
	}
	c, err := load("none", nil, []string{"ACCOUNTPW_MAIL_SENDGRID_TIMEOUT=3s", "ACCOUNTPW_MAIL_SMTP_TIMEOUT=4s", "ACCOUNTPW_LOG_LEVEL="})
	if err != nil || c.Mail.SendGrid.Timeout.Seconds() != 3 || c.Mail.SMTP.Timeout.Seconds() != 4 || c.Log.Level != DefaultLogLevel {
		t.Errorf("got %v, sendgrid %s, smtp %s, level %q; want 3s, 4s and the default level for an empty value",
			err, c.Mail.SendGrid.Timeout, c.Mail.SMTP.Timeout, c.Log.Level)
	}
}

func TestValidateNamesTheVariableOfEveryKey(t *testing.T) {
	t.Parallel()
	c := Default()
	c.Database.URL = "postgres://db/x"
	c.Auth.JWTSecret = strings.Repeat("s", MinJWTSecretBytes)
	c.HTTP.ShutdownTimeout = 0
	c.Limits.ChangeBackoff = 0
	err := c.Validate()
	for _, want := range []string{
		"mail.provider (ACCOUNTPW_MAIL_PROVIDER) log prints",
		"ACCOUNTPW_MAIL_ALLOW_LOG_PROVIDER=true",
		"http.shutdown_timeout (ACCOUNTPW_HTTP_SHUTDOWN_TIMEOUT) must be positive",
		"limits.change_backoff (ACCOUNTPW_LIMITS_CHANGE_BACKOFF) must be positive and at most limits.change_backoff_max (ACCOUNTPW_LIMITS_CHANGE_BACKOFF_MAX)",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want it to contain %q", err, want)
		}
	}
}

// FuzzLoad feeds arbitrary YAML and a few arbitrary variable values to the
// loader: it must never panic, and its verdict must not depend on anything
// but its input.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("http:\n  addr: \":9090\"\n"), "10s", "4", "true")
	f.Add([]byte("password:\n  argon2_time: 5\nlimits:\n  change_failures: 7\n"), "x", "-1", "maybe")
	f.Add([]byte("mail:\n  provider: smtp\n  smtp: {host: h, tls: none}\n"), "", "", "")
	f.Add([]byte("http: [1, 2]\n"), "1h", "99999999999", "1")
	f.Add([]byte("&a [*a]"), "0s", "0", "false")
	f.Fuzz(func(t *testing.T, doc []byte, duration, number, flag string) {
		environ := []string{
			"ACCOUNTPW_HTTP_SHUTDOWN_TIMEOUT=" + duration, "ACCOUNTPW_RESET_TOKEN_TTL=" + duration,
			"ACCOUNTPW_MAIL_WORKERS=" + number, "ACCOUNTPW_PASSWORD_ARGON2_THREADS=" + number,
			"ACCOUNTPW_LIMITS_DISABLED=" + flag, "ACCOUNTPW_HTTP_TRUSTED_PROXIES=" + flag,
		}
		c1, err1 := load("fuzz.yaml", doc, environ)
		c2, err2 := load("fuzz.yaml", doc, environ)
		if errText(err1) != errText(err2) || !reflect.DeepEqual(c1, c2) {
			t.Fatalf("two loads of the same input differ:\n%v\n%v", err1, err2)
		}
		v1, v2 := c1.Validate(), c1.Validate()
		if errText(v1) != errText(v2) {
			t.Fatalf("Validate is not deterministic:\n%v\n%v", v1, v2)
		}
		if err1 == nil && v1 != nil {
			t.Fatalf("Load accepted a configuration that Validate refuses: %v", v1)
		}
	})
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
