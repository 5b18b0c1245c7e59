package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	smtpmock "github.com/mocktools/go-smtp-mock/v2"
)

// mustCert writes a self-signed certificate for 127.0.0.1 and returns the
// certificate and key paths.
func mustCert(t *testing.T) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	cert, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := errors.Join(os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600),
		os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)); err != nil {
		t.Fatal(err)
	}
	return cert, keyPath
}

// Served over TLS: only TLS 1.2 and later, only AEAD suites under TLS 1.2
// (no CBC), and HSTS on every answer.
func TestServesTLS(t *testing.T) {
	cert, key := mustCert(t)
	base, _ := startServe(t, map[string]string{
		"ACCOUNTPW_DATABASE_PATH": filepath.Join(t.TempDir(), "data", "accountpw.db"),
		"ACCOUNTPW_HTTP_TLS_CERT": cert, "ACCOUNTPW_HTTP_TLS_KEY": key,
	})
	base = strings.Replace(base, "http://", "https://", 1)
	client := func(maxV uint16) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, MaxVersion: maxV}}} //nolint:gosec // self-signed test certificate
	}
	resp, err := client(tls.VersionTLS13).Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=31536000; includeSubDomains" {
		t.Errorf("HSTS %q, want max-age=31536000; includeSubDomains", got)
	}
	if _, err := client(tls.VersionTLS11).Get(base + "/healthz"); err == nil {
		t.Error("a TLS 1.1 client must be refused")
	}
	// Every TLS 1.2 suite Go implements for this (ECDSA) certificate: the
	// AEAD ones are taken, the CBC ones refused.
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if !strings.HasPrefix(cs.Name, "TLS_ECDHE_ECDSA_WITH_") || !slices.Contains(cs.SupportedVersions, tls.VersionTLS12) {
			continue
		}
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, //nolint:gosec // self-signed test certificate
			MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{cs.ID}}}
		resp, err := (&http.Client{Transport: tr}).Get(base + "/healthz")
		aead := strings.Contains(cs.Name, "_GCM_") || strings.Contains(cs.Name, "CHACHA20_POLY1305")
		switch {
		case aead && err != nil:
			t.Errorf("%s: refused, want it taken: %v", cs.Name, err)
		case !aead && err == nil:
			t.Errorf("%s: taken, want only AEAD suites under TLS 1.2", cs.Name)
		}
		if err == nil {
			resp.Body.Close()
		}
		tr.CloseIdleConnections()
	}
}

// The smtp provider delivers through go-mail to an SMTP server.
func TestEndToEndSMTP(t *testing.T) {
	srv := smtpmock.New(smtpmock.ConfigurationAttr{MultipleMessageReceiving: true, HostAddress: "127.0.0.1"})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Stop() }()
	env := map[string]string{
		"ACCOUNTPW_DATABASE_PATH":              filepath.Join(t.TempDir(), "data", "accountpw.db"),
		"ACCOUNTPW_MAIL_PROVIDER":              "smtp",
		"ACCOUNTPW_MAIL_SMTP_HOST":             "127.0.0.1",
		"ACCOUNTPW_MAIL_SMTP_PORT":             itoa(srv.PortNumber()),
		"ACCOUNTPW_MAIL_SMTP_TLS":              "none",
		"ACCOUNTPW_MAIL_SMTP_HELO":             "localhost",
		"ACCOUNTPW_MAIL_FROM":                  "no-reply@example.org",
		"ACCOUNTPW_PASSWORD_ARGON2_MEMORY_KIB": "19456", "ACCOUNTPW_PASSWORD_ARGON2_TIME": "2",
		"ACCOUNTPW_PASSWORD_ARGON2_THREADS": "1",
	}
	base, _ := startServe(t, env)
	var u struct{ ID string }
	if err := json.Unmarshal([]byte(runCmd(t, env, "velvet orbit copper lantern\n", "users", "create", "--email", "Smtp@Example.org", "--password-stdin")), &u); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, put(t, base, "", `{"email":"smtp@example.org"}`), http.StatusAccepted)
	msgs, err := srv.WaitForMessages(1, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if rr := m.RcpttoRequestResponse(); len(rr) != 1 || !strings.Contains(rr[0][0], "Smtp@Example.org") {
		t.Errorf("RCPT %q, want the stored address", rr)
	}
	if !strings.Contains(strings.ReplaceAll(m.MsgRequest(), "=\r\n", ""), "password-reset?token") {
		t.Errorf("the message has no reset link")
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
