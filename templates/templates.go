// Package templates holds the bodies of the emails accountpw sends and the
// built-in reset page, embedded into the binary so a deployment cannot run
// with a missing or stale copy.
//
// Each email has a text part (*.txt.tmpl, for text/template) and an HTML part
// (*.html.tmpl, for html/template). The text file of each email also defines a
// "subject" template, so the subject lives next to the words it summarises.
// services/mail parses these files once at start-up; this package only ships
// them, and imports nothing but embed.
//
// Rules every template here keeps:
//   - no password, ever;
//   - no token and no link in the notice email: a notice is sent after the
//     password already changed, and must be safe to forward or leak;
//   - no external images, style sheets, fonts or tracking pixels: nothing the
//     mail client fetches, so opening a mail tells no third party anything.
package templates

import "embed"

// FS holds the email templates (reset.txt.tmpl, reset.html.tmpl,
// notice.txt.tmpl and notice.html.tmpl) and the reset page
// (reset_page.html, reset_page.js, reset_page.css). The page is static: it is
// served as is, so nothing a request carries, the token least of all, is ever
// rendered into it.
//
//go:embed *.tmpl reset_page.*
var FS embed.FS
