package config

import (
	"net"
	"strings"
	"testing"
)

// Validate accepts what net.Listen takes as a TCP address and the two ways of
// turning the listener off, and refuses the rest with the key and variable.
func TestMetricsAddr(t *testing.T) {
	t.Parallel()
	rows := []struct {
		name, addr string
		ok         bool
	}{
		{"the default, loopback", DefaultMetricsAddr, true},
		{"every interface", ":9090", true},
		{"a free port", "127.0.0.1:0", true},
		{"IPv6 loopback", "[::1]:9090", true},
		{"empty disables", "", true},
		{"off disables", MetricsOff, true},
		{"no port", "127.0.0.1", false},
		{"a port out of range", "127.0.0.1:65536", false},
		{"a named port", "127.0.0.1:http", false},
		{"a URL", "http://127.0.0.1:9090/metrics", false},
		{"IPv6 without brackets", "::1:9090", false},
	}
	for _, r := range rows {
		c := Default()
		c.Metrics.Addr = r.addr
		err := c.Validate()
		switch {
		case r.ok && err != nil:
			t.Errorf("%s: got %v, want no problem", r.name, err)
		case !r.ok && (err == nil || !strings.Contains(err.Error(), "metrics.addr (ACCOUNTPW_METRICS_ADDR)")):
			t.Errorf("%s: got %v, want a problem naming metrics.addr and its variable", r.name, err)
		}
		// IPv6 is not on every test machine; the others must really listen.
		if r.ok && c.Metrics.Enabled() && !strings.HasPrefix(r.addr, "[") {
			ln, err := net.Listen("tcp", strings.Replace(r.addr, ":9090", ":0", 1))
			if err != nil {
				t.Errorf("%s: Validate accepts it but net.Listen does not: %v", r.name, err)
				continue
			}
			ln.Close()
		}
	}
	if (Metrics{}).Enabled() || (Metrics{Addr: MetricsOff}).Enabled() || !DefaultMetrics().Enabled() {
		t.Error("empty and off must disable the listener, the default must enable it")
	}
}
