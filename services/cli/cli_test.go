package cli

import (
	"errors"
	"fmt"
	"runtime/debug"
	"testing"

	"github.com/accountpw/accountpw/services/config"
)

func TestLocalURL(t *testing.T) {
	t.Parallel()
	for _, r := range []struct {
		name string
		h    config.HTTP
		want string
	}{
		{"port only", config.HTTP{Addr: ":8080"}, "http://127.0.0.1:8080"},
		{"every IPv4 address", config.HTTP{Addr: "0.0.0.0:8080"}, "http://127.0.0.1:8080"},
		{"every IPv6 address", config.HTTP{Addr: "[::]:8080"}, "http://[::1]:8080"},
		{"one address", config.HTTP{Addr: "192.0.2.7:9000"}, "http://192.0.2.7:9000"},
		{"a host name", config.HTTP{Addr: "localhost:9000"}, "http://localhost:9000"},
		{"a service name", config.HTTP{Addr: "127.0.0.1:http"}, "http://127.0.0.1:80"},
		{"TLS", config.HTTP{Addr: ":8443", TLSCert: "cert.pem", TLSKey: "key.pem"}, "https://127.0.0.1:8443"},
	} {
		if got, err := LocalURL(r.h); err != nil || got != r.want {
			t.Errorf("%s: got %q, %v; want %q", r.name, got, err, r.want)
		}
	}
	for _, addr := range []string{":0", "8080", ""} {
		if got, err := LocalURL(config.HTTP{Addr: addr}); err == nil {
			t.Errorf("%q: got %q, want an error (no fixed port to ask)", addr, got)
		}
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	if got, want := describe(nil, false), "accountpw (devel) (revision unknown, "; got[:len(want)] != want {
		t.Errorf("without build information: got %q, want it to start with %q", got, want)
	}
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"}, {Key: "vcs.modified", Value: "true"},
	}}
	if got, want := describe(bi, true), "accountpw v1.2.3 (revision 0123456789abcdef0123456789abcdef01234567, modified, go1.26.8)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	bi.Main.Version, bi.Settings[1].Value = "", "false"
	if got, want := describe(bi, true), "accountpw (devel) (revision 0123456789abcdef0123456789abcdef01234567, go1.26.8)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestOneLine(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("configuration: %w", errors.Join(errors.New("a.yaml: yaml: unmarshal errors:\n  line 2: field adr not found"),
		errors.New("reset.token_ttl must be at most 1h0m0s")))
	if got, want := oneLine(err), "configuration: a.yaml: yaml: unmarshal errors: line 2: field adr not found; reset.token_ttl must be at most 1h0m0s"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	for _, r := range []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, 0},
		{"a failure", errors.New("x"), ExitFailure},
		{"a usage error", usage(errors.New("x")), ExitUsage},
		{"a wrapped usage error", fmt.Errorf("y: %w", usage(errors.New("x"))), ExitUsage},
	} {
		if got := ExitCode(r.err); got != r.want {
			t.Errorf("%s: got %d, want %d", r.name, got, r.want)
		}
	}
}
