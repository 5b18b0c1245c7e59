package config

// Defaults and special values of the metrics section.
const (
	// DefaultMetricsAddr keeps the metrics on loopback: they tell how busy
	// the service is and which refusals it answers, which is for the
	// operator's scraper, not for the clients of the public listener.
	DefaultMetricsAddr = "127.0.0.1:9090"
	// MetricsOff disables the listener like an empty address. It exists for
	// the environment, where an empty variable counts as unset.
	MetricsOff = "off"
)

// Metrics configures the Prometheus listener, which is never the API's.
type Metrics struct {
	// Addr is the host:port that serves GET /metrics; empty or "off"
	// disables it. Port 0 picks a free port (tests).
	Addr string `yaml:"addr" env:"ADDR"`
	// MergeResetOutcomes counts a reset email sent and one to an address
	// without an account as one outcome (and leaves reset emails out of the
	// delivery lag), so that the metrics cannot tell whether one request's
	// address has an account. Off by default: the listener is private.
	MergeResetOutcomes bool `yaml:"merge_reset_outcomes" env:"MERGE_RESET_OUTCOMES"`
}

// DefaultMetrics returns the metrics section's defaults.
func DefaultMetrics() Metrics { return Metrics{Addr: DefaultMetricsAddr} }

// Enabled reports whether serve opens the metrics listener.
func (m Metrics) Enabled() bool { return m.Addr != "" && m.Addr != MetricsOff }

// Validate checks that an enabled address is a host:port that net.Listen
// takes: a host (or none, for every interface) and a port from 0 to 65535.
func (m Metrics) Validate() error {
	var p problems
	if !m.Enabled() {
		return nil
	}
	if !validListenAddr(m.Addr) {
		p.add("metrics.addr must be host:port (such as %s or :9090), empty or %q, got %q", DefaultMetricsAddr, MetricsOff, m.Addr)
	}
	return p.err()
}
