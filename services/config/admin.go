package config

import (
	"net"
	"strconv"
	"strings"

	"github.com/accountpw/accountpw/models"
)

// Admin configures the admin API: the adopting application's door to
// accounts and sign-in checks, on a listener of its own, behind API keys.
// Without an address it is off, and the public listener never serves it.
type Admin struct {
	// Addr is the host:port of the admin listener; empty or "off" disables
	// it. Port 0 picks a free port (tests).
	Addr string `yaml:"addr" env:"ADDR"`
	// APIKeys are the keys a caller bears, comma-separated, each at least
	// models.MinAdminKeyLength bytes; several at once let a key be rotated
	// without a gap.
	APIKeys string `yaml:"-" env:"API_KEYS"`
	// TLSCert and TLSKey make the admin listener serve HTTPS itself.
	TLSCert string `yaml:"tls_cert" env:"TLS_CERT"`
	TLSKey  string `yaml:"tls_key" env:"TLS_KEY"`
}

// AdminOff disables the listener like an empty address, for the
// environment, where an empty variable counts as unset.
const AdminOff = "off"

// Enabled reports whether serve opens the admin listener.
func (a Admin) Enabled() bool { return a.Addr != "" && a.Addr != AdminOff }

// TLS reports whether the admin listener terminates TLS itself.
func (a Admin) TLS() bool { return a.TLSCert != "" }

// Keys returns the API keys, trimmed, in their order.
func (a Admin) Keys() []string {
	var keys []string
	for k := range strings.SplitSeq(a.APIKeys, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// Validate checks the section: an address needs keys (an open admin API
// would hand out every account), keys need an address, every key is long
// enough, and the certificate and key go together. Messages never quote a
// key.
func (a Admin) Validate() error {
	var p problems
	keys, given := a.Keys(), strings.TrimSpace(a.APIKeys) != ""
	switch {
	case a.Enabled() && len(keys) == 0:
		p.add("admin.addr needs ACCOUNTPW_ADMIN_API_KEYS: the admin API never runs without keys")
	case !a.Enabled() && given:
		p.add("ACCOUNTPW_ADMIN_API_KEYS needs admin.addr; without it there is no admin API")
	}
	if a.Enabled() && !validListenAddr(a.Addr) {
		p.add("admin.addr must be host:port (such as 127.0.0.1:8081 or :8081), empty or %q, got %q", AdminOff, a.Addr)
	}
	// Every entry counts, an empty one too ("k1,,k2"): a stray comma is a
	// mistake in the list, and its position is what the message can name.
	for i, k := range strings.Split(a.APIKeys, ",") {
		if given && len(strings.TrimSpace(k)) < models.MinAdminKeyLength {
			p.add("ACCOUNTPW_ADMIN_API_KEYS entry %d must have at least %d bytes (for example: openssl rand -base64 32)",
				i+1, models.MinAdminKeyLength)
		}
	}
	if (a.TLSCert == "") != (a.TLSKey == "") {
		p.add("admin.tls_cert and admin.tls_key go together")
	}
	return p.err()
}

// validListenAddr reports whether addr is a host:port that net.Listen takes:
// a host (or none, for every interface) and a port from 0 to 65535.
func validListenAddr(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	return err == nil
}
