// Package templates holds the bodies of the emails accountpw sends, embedded
// into the binary so a deployment cannot run with a missing or stale copy.
//
// Each email has a text part (*.txt.tmpl, for text/template) and an HTML part
// (*.html.tmpl, for html/template). The text file of each email also defines a
// "subject" template, so the subject lives next to the words it summarises.
// The services package parses these files once at start-up; this package
// only ships them, and imports nothing but embed.
//
// Rules every template here keeps (SECURITY.md R-MAIL-4, R-MAIL-5):
//   - no password, ever;
//   - no token and no link in the notice email: a notice is sent after the
//     password already changed, and must be safe to forward or leak;
//   - no external images, style sheets, fonts or tracking pixels: nothing the
//     mail client fetches, so opening a mail tells no third party anything.
package templates

import "embed"

// FS holds the email templates: reset.txt.tmpl, reset.html.tmpl,
// notice.txt.tmpl and notice.html.tmpl.
//
//go:embed *.tmpl
var FS embed.FS
