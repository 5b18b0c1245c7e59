package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/templates"
)

// pageWords are one language's words of the page, from
// templates/i18n/page.<tag>.json: Page fills the HTML, Script is what the
// page's script may say (the page carries it in <template id="messages">).
type pageWords struct {
	Page   map[string]string `json:"page"`
	Script map[string]string `json:"script"`
}

// pageView is what reset_page.html sees.
type pageView struct {
	Lang string
	// Product names the product, as the emails do.
	Product string
	// SignInURL is where the link shown after a successful reset leads;
	// empty: no link.
	SignInURL string
	Script    map[string]string
	words     map[string]string
}

// T returns the page's word for key; a missing one is an error, so a
// language file that lacks it fails at start.
func (v pageView) T(key string) (string, error) {
	s, ok := v.words[key]
	if !ok {
		return "", fmt.Errorf("page.%s.json has no %q", v.Lang, key)
	}
	return s, nil
}

// defaultProductName is the page's product name when Options names none:
// mail.product_name's default.
const defaultProductName = "accountpw"

// pageSources are the page's template and every language's words, read
// once: New renders them with its options.
var pageSources = sync.OnceValue(func() pageSource {
	src := pageSource{tmpl: htmltemplate.Must(htmltemplate.ParseFS(templates.FS, "reset_page.html")), words: map[string]pageWords{}}
	for _, lang := range models.Languages.Tags() {
		b, err := fs.ReadFile(templates.FS, "i18n/page."+lang+".json")
		if err != nil {
			panic(fmt.Sprintf("handlers: page words: %v", err))
		}
		var w pageWords
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&w); err != nil {
			panic(fmt.Sprintf("handlers: page.%s.json: %v", lang, err))
		}
		src.words[lang] = w
	}
	return src
})

type pageSource struct {
	tmpl  *htmltemplate.Template
	words map[string]pageWords
}

// mustLocalizedPages renders the page once per language for New: a
// request only picks a copy, so nothing it carries is rendered into the
// page. Only configuration is: the product name and the sign-in link,
// escaped by html/template like any other value.
func mustLocalizedPages(product, signInURL string) map[string]page {
	src := pageSources()
	pages := map[string]page{}
	for lang, w := range src.words {
		var buf bytes.Buffer
		view := pageView{Lang: lang, Product: product, SignInURL: signInURL, Script: w.Script, words: w.Page}
		if err := src.tmpl.Execute(&buf, view); err != nil {
			panic(fmt.Sprintf("handlers: page in %s: %v", lang, err))
		}
		pages[lang] = page{contentType: echo.MIMETextHTMLCharsetUTF8, body: buf.Bytes()}
	}
	return pages
}

// mustSignInURL panics unless target is empty or an absolute http(s) URL
// that reset.sign_in_url's check (models.CheckServiceURL) accepts, so a
// configuration that loaded never panics here.
func mustSignInURL(target string) {
	if target == "" {
		return
	}
	if err := models.CheckServiceURL(target, true); err != nil {
		panic(fmt.Sprintf("handlers: sign-in URL: %v", err))
	}
}

// acceptLanguage is the request's Accept-Language, every line of it, capped
// at models.MaxAcceptLanguage bytes.
func acceptLanguage(r *http.Request) string {
	return models.CapAcceptLanguage(strings.Join(r.Header.Values("Accept-Language"), ","))
}

// serveLocalizedPage answers with the page of pages in the language the
// browser asks for (models.Languages.Negotiate, the rule the emails
// follow), else in fallback. The answer varies with Accept-Language, and says so.
func serveLocalizedPage(pages map[string]page, fallback string) echo.HandlerFunc {
	return func(c echo.Context) error {
		lang := models.Languages.Negotiate(acceptLanguage(c.Request()))
		if lang == "" {
			lang = fallback
		}
		p := pages[lang]
		h := c.Response().Header()
		h.Set("Content-Language", lang)
		h.Add(echo.HeaderVary, "Accept-Language")
		h.Set(echo.HeaderContentLength, strconv.Itoa(len(p.body)))
		return c.Blob(http.StatusOK, p.contentType, p.body)
	}
}

// mustPageLanguage panics unless lang is one of models.Languages; the mail
// section's default_locale is checked with the same list, so a configuration
// that loaded never panics here.
func mustPageLanguage(lang string) {
	if !models.Languages.Has(lang) {
		panic(fmt.Sprintf("handlers: page language %q is not one of %s", lang, strings.Join(models.Languages.Tags(), ", ")))
	}
}
