// Package templates holds the bodies of the emails accountpw sends, the
// built-in reset page, and their words in every supported language, embedded
// into the binary so a deployment cannot run with a missing or stale copy.
//
// Each email has a text part (*.txt.tmpl, for text/template) and an HTML part
// (*.html.tmpl, for html/template). The text file of each email also defines a
// "subject" template, so the subject lives next to the words it summarises.
// The templates hold structure only: their words come from the message files
// i18n/email.<tag>.toml (go-i18n), one per language, through {{.T "id"}}.
// services/mail parses these files once at start-up; this package only ships
// them, and imports nothing but embed.
//
// Rules every email template here keeps:
//   - no password, ever;
//   - no token in the notice email: a notice is sent after the password
//     already changed, and must be safe to forward or leak (its only link is
//     the page that asks for a new reset link);
//   - inline styles and a table layout only, with explicit text and
//     background colours, so that it reads the same in mail clients that
//     drop <style> and in dark mode;
//   - no images, external style sheets, fonts or tracking pixels: nothing the
//     mail client fetches, so opening a mail tells no third party anything.
package templates

import "embed"

// FS holds the email templates (reset.txt.tmpl, reset.html.tmpl,
// notice.txt.tmpl and notice.html.tmpl), their message files
// (i18n/email.<tag>.toml), the reset page (reset_page.html, reset_page.js,
// reset_page.css) and the page's words (i18n/page.<tag>.json). The page is
// rendered once per language when the server starts: a request only picks
// one of those copies, so nothing a request carries, the token least of all,
// is ever rendered into it.
//
//go:embed *.tmpl reset_page.* i18n
var FS embed.FS
