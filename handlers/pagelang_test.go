package handlers

import (
	"encoding/json"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/templates"
)

// The page follows the browser's language by the rule the emails follow,
// else the configured default, and says which language it sent.
func TestPageLanguage(t *testing.T) {
	tests := []struct {
		name, header, fallback string
		want, heading          string
	}{
		{"no header", "", "", "en", "Reset your password"},
		{"German browser", "de-DE,de;q=0.9,en;q=0.8", "", "de", "Passwort zurücksetzen"},
		{"second choice", "ja, fr-CA;q=0.7", "", "fr", "Réinitialisez votre mot de passe"},
		{"Spanish for Latin America", "es-419", "", "es", "Restablezca su contraseña"},
		{"unsupported gives the default", "pt-BR", "de", "de", "Passwort zurücksetzen"},
		{"garbage gives the default", `"><x>;q=;;`, "es", "es", "Restablezca su contraseña"},
		{"huge header gives the default", strings.Repeat("ja,", 5000) + "de", "", "en", "Reset your password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{pagePath, pageRequestPath} {
				r := httptest.NewRequest(http.MethodGet, path, nil)
				if tt.header != "" {
					r.Header.Set("Accept-Language", tt.header)
				}
				rec := serve(newFake(), Options{DefaultLanguage: tt.fallback}, r)
				body := rec.Body.String()
				if rec.Code != http.StatusOK || rec.Header().Get("Content-Language") != tt.want ||
					rec.Header().Get("Vary") != "Accept-Language" {
					t.Errorf("%s: got %d, Content-Language %q, Vary %q; want 200, %s, Accept-Language", path, rec.Code,
						rec.Header().Get("Content-Language"), rec.Header().Get("Vary"), tt.want)
				}
				if !strings.Contains(body, `<html lang="`+tt.want+`">`) || !strings.Contains(body, ">"+tt.heading+"</h1>") {
					t.Errorf("%s: the page is not in %s:\n%.300s", path, tt.want, body)
				}
			}
		})
	}
}

func TestBadPageLanguagePanics(t *testing.T) {
	for _, lang := range []string{"pt", "de-DE", "EN"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("default language %q: got no panic, want one", lang)
				}
			}()
			New(newFake(), Options{DefaultLanguage: lang})
		}()
	}
}

// Every language has the words English has, no more; the script asks only
// for words the page carries, and has guidance for every policy refusal.
func TestPageWordsMatch(t *testing.T) {
	read := func(lang string) pageWords {
		b, err := fs.ReadFile(templates.FS, "i18n/page."+lang+".json")
		if err != nil {
			t.Fatal(err)
		}
		var w pageWords
		if err := json.Unmarshal(b, &w); err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		return w
	}
	en := read("en")
	for _, lang := range models.Languages.Tags() {
		w := read(lang)
		for section, pair := range map[string][2]map[string]string{"page": {en.Page, w.Page}, "script": {en.Script, w.Script}} {
			want, got := slices.Sorted(maps.Keys(pair[0])), slices.Sorted(maps.Keys(pair[1]))
			if !slices.Equal(got, want) {
				t.Errorf("%s %s: keys %q, want %q", lang, section, got, want)
			}
			for k, v := range pair[1] {
				if strings.TrimSpace(v) == "" || strings.ContainsAny(v, "<>") {
					t.Errorf("%s %s.%s: empty or markup: %q", lang, section, k, v)
				}
			}
		}
	}
	script := string(pageScript.body)
	for _, m := range regexp.MustCompile(`\bt\('([a-z_.]+)'`).FindAllStringSubmatch(script, -1) {
		if _, ok := en.Script[m[1]]; !ok && !strings.HasSuffix(m[1], ".") {
			t.Errorf("the script asks for %q, which the page lacks", m[1])
		}
	}
	for _, m := range regexp.MustCompile(`\btn\('([a-z_]+)'`).FindAllStringSubmatch(script, -1) {
		if _, ok := en.Script[m[1]+".other"]; !ok {
			t.Errorf("the script asks for the plural %q, which the page lacks", m[1])
		}
	}
	for _, e := range []*models.Error{models.ErrPasswordTooShort, models.ErrPasswordTooLong, models.ErrPasswordInvalidCharacter,
		models.ErrPasswordBlocklisted, models.ErrPasswordPredictable, models.ErrPasswordContext, models.ErrPasswordBreached} {
		if _, ok := en.Script["policy."+e.Code]; !ok {
			t.Errorf("no guidance for %s", e.Code)
		}
	}
}
