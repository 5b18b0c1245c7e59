package mail

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/accountpw/accountpw/services/config"
)

// urlPattern finds URLs written out in text, as a mail client's autolinker
// would.
var urlPattern = regexp.MustCompile(`(?i)\b(?:https?://|www\.)[^\s<>"']+`)

// urlAttributes are the attributes through which HTML can link or load.
var urlAttributes = []string{"href", "src", "srcset", "action", "formaction", "background", "poster", "cite",
	"data", "longdesc", "xlink:href"}

// htmlLinks returns every URL of an HTML document: attribute values, URLs in
// text, and for each <a> its text.
func htmlLinks(t *testing.T, doc string) (urls []string, anchors map[string][]string) {
	t.Helper()
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		t.Fatalf("parse html: %v", err)
	}
	anchors = map[string][]string{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.ElementNode:
			for _, a := range n.Attr {
				if slices.Contains(urlAttributes, strings.ToLower(a.Key)) {
					urls = append(urls, a.Val)
				}
				if n.Data == "a" && a.Key == "href" {
					anchors[a.Val] = append(anchors[a.Val], strings.TrimSpace(nodeText(n)))
				}
			}
		case html.TextNode:
			urls = append(urls, urlPattern.FindAllString(n.Data, -1)...)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return urls, anchors
}

func nodeText(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		b.WriteString(nodeText(c))
	}
	return b.String()
}

// TestEveryLinkIsExpected: the reset email links only to the reset link and
// the notice only to the request page, as a button and as visible text to
// copy, in both parts; the one other URL is mail.product_url in the footer,
// and only when it is set.
func TestEveryLinkIsExpected(t *testing.T) {
	t.Parallel()
	const product = "https://acme.example"
	for _, withProduct := range []bool{true, false} {
		r := mustRenderer(t, func(c *config.Mail) {
			if !withProduct {
				c.ProductURL = ""
			}
		})
		for _, e := range goldenEmails() {
			allowed := slices.Clone(e.links)
			if withProduct {
				allowed = append(allowed, product)
			}
			for _, lang := range Languages() {
				m, err := e.msg(r, lang)
				if err != nil {
					t.Fatal(err)
				}
				where := e.name + " " + lang
				urls, anchors := htmlLinks(t, m.HTML)
				urls = append(urls, urlPattern.FindAllString(m.Text, -1)...)
				for _, u := range urls {
					if !slices.Contains(allowed, u) {
						t.Errorf("%s: unexpected URL %q", where, u)
					}
				}
				link := e.links[0]
				// The button, and the link written out to copy.
				if got := anchors[link]; len(got) != 2 || got[1] != link || got[0] == link || got[0] == "" {
					t.Errorf("%s: anchors to %s have texts %q, want a button and the URL itself", where, link, got)
				}
				if !slices.Contains(urlPattern.FindAllString(m.Text, -1), link) {
					t.Errorf("%s: the text part lacks %s", where, link)
				}
				if got := anchors[product]; withProduct != (len(got) == 1 && got[0] == product) {
					t.Errorf("%s: links to the product page %q, want one showing its URL exactly when product_url is set", where, got)
				}
			}
		}
	}
}
