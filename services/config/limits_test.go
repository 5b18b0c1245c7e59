package config

import "testing"

// The quota's log line names settings that exist, in ResetAddress's order.
func TestResetAddressKeysAreSettings(t *testing.T) {
	t.Parallel()
	keys := map[string]bool{}
	for _, v := range Variables() {
		keys[v.Key] = true
	}
	l := Limits{ResetAddressPer15m: 1, ResetAddressPer24h: 2}
	for i, r := range l.ResetAddress() {
		if k := ResetAddressKeys[i]; !keys[k] {
			t.Errorf("%s is not a setting", k)
		}
		if r.Max != i+1 {
			t.Errorf("window %d has max %d: ResetAddressKeys is out of ResetAddress's order", i, r.Max)
		}
	}
}
