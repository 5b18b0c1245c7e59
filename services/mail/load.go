package mail

import (
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	texttemplate "text/template"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/templates"
)

// The template files of the emails. Each may be replaced, by name, by a file
// in mail.templates_dir.
const (
	resetTextFile  = "reset.txt.tmpl"
	resetHTMLFile  = "reset.html.tmpl"
	noticeTextFile = "notice.txt.tmpl"
	noticeHTMLFile = "notice.html.tmpl"
)

var templateFiles = []string{resetTextFile, resetHTMLFile, noticeTextFile, noticeHTMLFile}

// sources says where each file comes from: the embedded built-ins, or the
// operator's directory for the names found there.
type sources struct {
	dir       string
	overrides map[string]string // name ("reset.html.tmpl", "i18n/email.de.toml") → path
}

// overridable lists the names mail.templates_dir may hold.
func overridable() []string {
	names := slices.Clone(templateFiles)
	for _, lang := range Languages() {
		names = append(names, messageFile(lang))
	}
	return names
}

// findOverrides lists the operator's files. A name accountpw does not read
// is an error (a typo would otherwise be ignored in silence); names starting
// with "." are skipped, as are directories such as Kubernetes' "..data".
func findOverrides(dir string) (sources, error) {
	src := sources{dir: dir, overrides: map[string]string{}}
	if dir == "" {
		return src, nil
	}
	allowed := overridable()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case rel == "." || (d.IsDir() && rel == "i18n"):
			return nil
		case strings.HasPrefix(d.Name(), "."):
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		case !slices.Contains(allowed, rel):
			return fmt.Errorf("%s is not a file accountpw reads; the directory may hold %s", path, strings.Join(allowed, ", "))
		}
		src.overrides[rel] = path
		return nil
	})
	if err != nil {
		return src, fmt.Errorf("mail.templates_dir: %w", err)
	}
	return src, nil
}

// read returns the content of name and where it came from, for errors.
func (s sources) read(name string) (content []byte, origin string, err error) {
	if path, ok := s.overrides[name]; ok {
		b, err := os.ReadFile(path)
		return b, path, err
	}
	b, err := fs.ReadFile(templates.FS, name)
	return b, "built-in " + name, err
}

// emailTemplates are the parsed templates and where each came from.
type emailTemplates struct {
	resetText, noticeText *texttemplate.Template
	resetHTML, noticeHTML *htmltemplate.Template
	origin                map[string]string
}

// parseTemplates parses the four templates; the text ones must define
// "subject". Errors name the file.
func parseTemplates(src sources) (*emailTemplates, error) {
	t := &emailTemplates{origin: map[string]string{}}
	var errs []error
	for _, name := range templateFiles {
		b, origin, err := src.read(name)
		t.origin[name] = origin
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if strings.HasSuffix(name, ".html.tmpl") {
			h, err := htmltemplate.New(name).Parse(string(b))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", origin, err))
				continue
			}
			if name == resetHTMLFile {
				t.resetHTML = h
			} else {
				t.noticeHTML = h
			}
			continue
		}
		x, err := texttemplate.New(name).Parse(string(b))
		if err == nil && x.Lookup("subject") == nil {
			err = errors.New(`it defines no "subject" template ({{define "subject"}}…{{end}})`)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", origin, err))
			continue
		}
		if name == resetTextFile {
			t.resetText = x
		} else {
			t.noticeText = x
		}
	}
	return t, errors.Join(errs...)
}

// loadCatalog reads the built-in message file of every language, English
// first (it defines the message ids), then the operator's files over them.
// An operator's file may change some messages of a supported language; each
// of its messages is rendered once with sample data here, so a broken one
// stops the start, naming the file.
func loadCatalog(src sources) (*catalog, error) {
	c := newCatalog()
	langs := Languages()
	slices.SortStableFunc(langs, func(a, b string) int {
		if a == "en" {
			return -1
		} else if b == "en" {
			return 1
		}
		return 0
	})
	for _, lang := range langs {
		name := messageFile(lang)
		b, err := fs.ReadFile(templates.FS, name)
		if err == nil {
			_, err = c.add(lang, "built-in "+name, b, true)
		}
		if err != nil {
			return nil, err
		}
	}
	for _, lang := range langs {
		name := messageFile(lang)
		if _, ok := src.overrides[name]; !ok {
			continue
		}
		b, origin, err := src.read(name)
		var ids []string
		if err == nil {
			ids, err = c.add(lang, origin, b, false)
		}
		if err == nil {
			err = c.check(lang, origin, ids)
		}
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// check renders the messages ids of an operator's file with sample data.
func (c *catalog) check(lang, origin string, ids []string) error {
	sample := sampleWords()
	for _, id := range ids {
		for _, n := range []int{1, 2} {
			sample.Count = n
			if _, err := c.text(lang, id, sample); err != nil {
				return fmt.Errorf("%s: %w", origin, err)
			}
		}
	}
	return nil
}

// sampleWords has every field set, as a real email would.
func sampleWords() words {
	return words{Product: "Example", ProductURL: "https://example.com", Email: "person@example.com",
		SupportContact: "support@example.com", Link: sampleLink, ValidFor: "30 minutes", At: "2 January 2030",
		IP: "192.0.2.1", RequestLink: sampleRequestLink, Day: 2, Year: 2030, Hour: 9, Month: "January",
		Time: "9:05", Minute: "05", Major: "1 hour", Minor: "30 minutes", Count: 2}
}

// Sample links for checking templates and messages at start.
const (
	sampleLink        = "https://example.com/password-reset?token=sample-token_0123456789"
	sampleRequestLink = "https://example.com" + models.RequestPagePath
)
