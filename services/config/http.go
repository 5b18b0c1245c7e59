package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/accountpw/accountpw/models"
)

// Defaults of the HTTP section.
const (
	DefaultAddr            = ":8080"
	DefaultShutdownTimeout = 15 * time.Second
)

// HTTP is the listener and what the router trusts.
type HTTP struct {
	Addr string `yaml:"addr" env:"ADDR"`
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed.
	TrustedProxies []string `yaml:"trusted_proxies" env:"TRUSTED_PROXIES"`
	// CORSAllowedOrigins are exact browser origins allowed to call the API.
	CORSAllowedOrigins []string `yaml:"cors_allowed_origins" env:"CORS_ALLOWED_ORIGINS"`
	// TLSCert and TLSKey make the service serve HTTPS itself.
	TLSCert         string        `yaml:"tls_cert" env:"TLS_CERT"`
	TLSKey          string        `yaml:"tls_key" env:"TLS_KEY"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout" env:"SHUTDOWN_TIMEOUT"`
	// ChangePasswordURL is where /.well-known/change-password redirects;
	// empty means the built-in request page.
	ChangePasswordURL string `yaml:"change_password_url" env:"CHANGE_PASSWORD_URL"`
}

// DefaultHTTP returns the HTTP section's defaults.
func DefaultHTTP() HTTP {
	return HTTP{Addr: DefaultAddr, ShutdownTimeout: DefaultShutdownTimeout}
}

// Validate checks the section with the same rules the router applies.
func (h HTTP) Validate() error {
	var p problems
	if _, err := h.TrustedProxyPrefixes(); err != nil {
		p.add("http.trusted_proxies: %v", err)
	}
	for _, o := range h.CORSAllowedOrigins {
		if err := models.CheckOrigin(o); err != nil {
			p.add("http.cors_allowed_origins: %v", err)
		}
	}
	if h.ChangePasswordURL != "" {
		if err := models.CheckRedirectTarget(h.ChangePasswordURL); err != nil {
			p.add("http.change_password_url: %v", err)
		}
	}
	if (h.TLSCert == "") != (h.TLSKey == "") {
		p.add("http.tls_cert and http.tls_key go together")
	}
	if h.ShutdownTimeout <= 0 {
		p.add("http.shutdown_timeout must be positive, got %s", h.ShutdownTimeout)
	}
	return p.err()
}

// TLS reports whether the service terminates TLS itself.
func (h HTTP) TLS() bool { return h.TLSCert != "" }

// TrustedProxyPrefixes parses TrustedProxies.
func (h HTTP) TrustedProxyPrefixes() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(h.TrustedProxies))
	for _, s := range h.TrustedProxies {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR: %w", s, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
