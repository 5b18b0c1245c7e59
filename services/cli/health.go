package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/accountpw/accountpw/services/config"
)

// HealthTimeout bounds a health check from start to answer: a container
// runtime runs it every few seconds, and a server that cannot answer its
// readiness probe within this is not serving anyone well either.
const HealthTimeout = 2 * time.Second

func (a *app) healthcheckCmd() *cobra.Command {
	var base string
	cmd := &cobra.Command{
		Use:   "healthcheck [--url URL]",
		Short: "Exit 0 if the server's GET /readyz answers 200 within 2 s, else 1 (for a container's HEALTHCHECK)",
		Long: "Ask a running server's readiness probe, GET /readyz. --url is the server's base URL, or the\n" +
			"full URL of a probe (ending in /readyz or /healthz), asked as it is. Without --url it asks the address\n" +
			"serve listens on (http.addr, ACCOUNTPW_HTTP_ADDR) on this machine: \":8080\" means\n" +
			"http://127.0.0.1:8080, and https when http.tls_cert is set. It reads the configuration\n" +
			"only for that, and needs no database and no secret.",
		Args: cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, _ []string) error {
			target := base
			if target == "" {
				cfg, _, err := a.setup(false)
				if err != nil {
					return err
				}
				if target, err = LocalURL(cfg.HTTP); err != nil {
					return fmt.Errorf("healthcheck: %w", err)
				}
			}
			u, err := probeURL(target)
			if err != nil {
				return usage(err)
			}
			status, err := probe(ctx, u)
			if err != nil {
				return fmt.Errorf("healthcheck: %w", err)
			}
			_, err = fmt.Fprintf(a.env.Stdout, "ready: GET %s answered %s\n", u, status)
			return err
		}),
	}
	cmd.Flags().StringVar(&base, "url", "", "base URL of the server, e.g. http://127.0.0.1:8080, or a probe's full URL, e.g. http://127.0.0.1:8080/readyz (default: from http.addr)")
	return cmd
}

// probeURL is the URL healthcheck asks for target: a probe's own URL (its
// path ends in /readyz or /healthz) as it is, so that a URL copied from a
// load balancer's or orchestrator's probe works; anything else is the base
// URL the server is reached at, perhaps under a proxy's prefix, and
// /readyz is added to it.
func probeURL(target string) (*url.URL, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--url must be an http:// or https:// URL (the server's base URL, or its /readyz or /healthz), got %q", target)
	}
	if path := strings.TrimSuffix(u.Path, "/"); strings.HasSuffix(path, "/readyz") || strings.HasSuffix(path, "/healthz") {
		return u, nil
	}
	return u.JoinPath("readyz"), nil
}

// LocalURL is the base URL at which a process on this machine reaches the
// server configured by h: an unspecified host (":8080", "0.0.0.0:8080",
// "[::]:8080") becomes the loopback address of its family, and the scheme is
// https when the server terminates TLS itself.
func LocalURL(h config.HTTP) (string, error) {
	host, port, err := net.SplitHostPort(h.Addr)
	if err != nil {
		return "", fmt.Errorf("http.addr %q: %w", h.Addr, err)
	}
	n, err := net.LookupPort("tcp", port)
	if err != nil || n == 0 {
		return "", fmt.Errorf("http.addr %q has no fixed port to ask; pass --url", h.Addr)
	}
	switch ip := net.ParseIP(host); {
	case host == "" || (ip != nil && ip.IsUnspecified() && ip.To4() != nil):
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	scheme := "http"
	if h.TLS() {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s", scheme, net.JoinHostPort(host, fmt.Sprint(n))), nil
}

// probe GETs u and returns the status line if it is 200.
//
// Over https to a loopback address it does not verify the certificate: the
// certificate names the service's public host, never 127.0.0.1, and the
// check sends nothing secret and only reads a status code, so the most a
// process that answered on our port could do is make a dead server look
// alive, and if it holds the port the server is not running anyway. For any
// other host the certificate is verified as usual. Proxies from the
// environment are ignored: the check asks the server itself.
func probe(ctx context.Context, u *url.URL) (string, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	if u.Scheme == "https" && isLoopback(u.Hostname()) {
		// Loopback only: see the doc comment.
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport: tr,
		// /readyz answers itself; a redirect means something else answered.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	ctx, cancel := context.WithTimeout(ctx, HealthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if ctx.Err() != nil {
		return "", fmt.Errorf("GET %s: no answer within %s", u, HealthTimeout)
	}
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s answered %s, want 200", u, resp.Status)
	}
	return resp.Status, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
