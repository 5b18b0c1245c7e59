package mail

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accountpw/accountpw/services/config"
)

// overrideDir writes files (name → content) into a fresh directory.
func overrideDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// An operator's template replaces the built-in one by name, and an
// operator's message file changes some words of its language only.
func TestTemplateOverrides(t *testing.T) {
	t.Parallel()
	dir := overrideDir(t, map[string]string{
		"reset.txt.tmpl":     "{{define \"subject\"}}{{.Product}}: {{.T \"reset_heading\"}}{{end}}Go to {{.Link}} ({{.ValidFor}}).\n",
		"i18n/email.de.toml": "reset_button = \"Jetzt Passwort wählen\"\n",
		".DS_Store":          "ignored",
		"..data/stray.txt":   "a Kubernetes volume's internals are ignored",
	})
	r := mustRenderer(t, func(c *config.Mail) { c.TemplatesDir = dir })
	link := "https://acme.example/password-reset?token=t"
	en := mustRenderReset(t, r, ResetEmail{To: "a@example.com", Language: "en", Link: link, ValidFor: time.Hour})
	if en.Subject != "Acme: Reset your password" || en.Text != "Go to "+link+" (1 hour).\n" {
		t.Errorf("overridden text: got subject %q text %q", en.Subject, en.Text)
	}
	if !strings.Contains(en.HTML, ">Choose a new password</a>") {
		t.Error("the built-in HTML must stay when only the text is replaced")
	}
	de := mustRenderReset(t, r, ResetEmail{To: "a@example.com", Language: "de", Link: link, ValidFor: time.Hour})
	if !strings.Contains(de.HTML, ">Jetzt Passwort wählen</a>") || !strings.Contains(de.HTML, "Passwort zurücksetzen") {
		t.Errorf("the German override must change only its message:\n%s", de.HTML)
	}
}

// A broken override stops the start with an error that names the file; it
// never waits for the first send to fail.
func TestBrokenOverrides(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		want  string // in the error, besides the directory
	}{
		{"template that does not parse", map[string]string{"reset.html.tmpl": "<p>{{if .Link}}</p>"},
			"reset.html.tmpl"},
		{"template with an unknown field", map[string]string{"notice.txt.tmpl": `{{define "subject"}}x{{end}}{{.Nope}}`},
			"notice.txt.tmpl"},
		{"template with an unknown message", map[string]string{"notice.html.tmpl": `<p>{{.T "no_such_message"}}</p>`},
			"notice.html.tmpl"},
		{"text template without a subject", map[string]string{"reset.txt.tmpl": "{{.Link}}"},
			`reset.txt.tmpl: it defines no "subject"`},
		{"reset email without its link", map[string]string{"reset.html.tmpl": `<p>{{.T "reset_heading"}}</p>`},
			"reset.html.tmpl: the HTML must link"},
		{"message file that does not parse", map[string]string{"i18n/email.fr.toml": "greeting = "},
			"email.fr.toml"},
		{"message with an unknown field", map[string]string{"i18n/email.es.toml": `greeting = "Hola {{.Nombre}}"`},
			"email.es.toml"},
		{"message id that does not exist", map[string]string{"i18n/email.de.toml": `gruss = "Hallo"`},
			`email.de.toml: unknown message id "gruss"`},
		{"language that is not supported", map[string]string{"i18n/email.pt.toml": `greeting = "Olá,"`},
			"email.pt.toml is not a file accountpw reads"},
		{"file that is not read", map[string]string{"reset.htm.tmpl": "<p></p>"},
			"reset.htm.tmpl is not a file accountpw reads"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := overrideDir(t, tt.files)
			_, err := NewRenderer(testMail(func(c *config.Mail) { c.TemplatesDir = dir }))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), dir) {
				t.Errorf("got %v, want an error naming %s and %q", err, dir, tt.want)
			}
		})
	}
}

func TestMissingTemplatesDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "missing")
	if _, err := NewRenderer(testMail(func(c *config.Mail) { c.TemplatesDir = dir })); err == nil ||
		!strings.Contains(err.Error(), "mail.templates_dir") {
		t.Errorf("got %v, want an error about mail.templates_dir", err)
	}
}
