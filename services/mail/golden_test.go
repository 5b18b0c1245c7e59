package mail

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
)

// update rewrites the golden files: go test ./services/mail -run Golden -update
var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// Fixed data for the golden files, so they change only when an email does.
// The token has no "-" or "_": nothing in it lets a browser break the line,
// so the golden HTML shows whether the layout wraps a link on its own.
const (
	goldenLink    = "https://acme.example/password-reset?token=q8Vd0LrX3nT9wYbKc2HfJ5sPaE7uGmZ1oRiN4xWlBkQ"
	goldenRequest = "https://acme.example/password-reset/request"
)

var goldenAt = time.Date(2029, 1, 2, 15, 4, 5, 0, time.UTC)

// goldenEmail is one email of the golden set.
type goldenEmail struct {
	name  string // file name without language and extension
	links []string
	msg   func(r *Renderer, lang string) (models.Message, error)
}

// goldenEmails are every email accountpw sends, with the links each may
// hold: its own (the reset link, or the request page for a notice) and the
// product's home page in the footer. Nothing else.
func goldenEmails() []goldenEmail {
	notice := func(change models.PasswordMethod) func(*Renderer, string) (models.Message, error) {
		return func(r *Renderer, lang string) (models.Message, error) {
			return r.RenderNotice(NoticeEmail{MessageID: "job-2", To: "ann@example.com", Language: lang, Change: change,
				At: goldenAt, IP: "203.0.113.9", RequestLink: goldenRequest})
		}
	}
	return []goldenEmail{
		{"reset", []string{goldenLink}, func(r *Renderer, lang string) (models.Message, error) {
			return r.RenderReset(ResetEmail{MessageID: "job-1", To: "ann@example.com", Language: lang,
				Link: goldenLink, ValidFor: 30 * time.Minute})
		}},
		{"notice-reset", []string{goldenRequest}, notice(models.MethodReset)},
		{"notice-change", []string{goldenRequest}, notice(models.MethodChange)},
	}
}

// TestGolden compares every email in every language, text and HTML, with
// testdata/golden; a reviewer reads those files (and .ci/emails.sh renders
// the HTML ones in Chromium) to judge the emails.
func TestGolden(t *testing.T) {
	t.Parallel()
	r := mustRenderer(t)
	dir := filepath.Join("testdata", "golden")
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range goldenEmails() {
		for _, lang := range Languages() {
			m, err := e.msg(r, lang)
			if err != nil {
				t.Fatalf("%s %s: %v", e.name, lang, err)
			}
			files := map[string]string{
				e.name + "." + lang + ".txt":  "Subject: " + m.Subject + "\n\n" + m.Text,
				e.name + "." + lang + ".html": m.HTML,
			}
			for name, got := range files {
				path := filepath.Join(dir, name)
				if *update {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./services/mail -run Golden -update)", err)
				}
				if got != string(want) {
					t.Errorf("%s differs from the rendered email; if the change is meant, run with -update and review the diff:\n%s", path, got)
				}
			}
		}
	}
}
