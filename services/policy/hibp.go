package policy

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
)

// maxRangeBody caps a range response: real ones are about 40 KB with padding.
const maxRangeBody = 1 << 20

// hibp asks the Pwned Passwords range API about a password. Only the first
// five hex characters of the password's SHA-1 leave the process
// (k-anonymity); the suffixes come back and are matched here. By default an
// outage lets the password through (the local blocklist and strength
// estimate still apply); with FailClosed it is refused with ErrUnavailable.
type hibp struct {
	cfg    config.BreachCheck
	client *http.Client
}

func newHIBP(cfg config.BreachCheck) *hibp {
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	return &hibp{cfg: cfg, client: &http.Client{Timeout: cfg.Timeout}}
}

// check returns models.ErrPasswordBreached when the password appears in the
// corpus, nil when it does not or (unless FailClosed) when the service cannot
// be asked, models.ErrUnavailable when it cannot be asked and FailClosed is
// set, and ctx's error when the caller gave up.
func (c *hibp) check(ctx context.Context, password string) error {
	sum := sha1.Sum([]byte(password))
	digest := strings.ToUpper(hex.EncodeToString(sum[:]))
	found, err := c.lookup(ctx, digest[:5], digest[5:])
	switch {
	case err == nil && found:
		return models.ErrPasswordBreached
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case c.cfg.FailClosed:
		return models.ErrUnavailable
	}
	return nil
}

func (c *hibp) lookup(ctx context.Context, prefix, suffix string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.BaseURL+"/range/"+prefix, nil)
	if err != nil {
		return false, err
	}
	// Padding makes every response a similar size, so the prefix cannot be
	// guessed from the length of the encrypted reply.
	req.Header.Set("Add-Padding", "true")
	req.Header.Set("User-Agent", "accountpw")
	resp, err := c.client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("pwned passwords: status %d", resp.StatusCode)
	}
	found := false
	lines := bufio.NewScanner(io.LimitReader(resp.Body, maxRangeBody))
	for lines.Scan() {
		s, n, ok := strings.Cut(strings.TrimSpace(lines.Text()), ":")
		count, err := strconv.Atoi(n)
		// Padding entries have a count of zero.
		if ok && err == nil && count > 0 && strings.EqualFold(s, suffix) {
			found = true
		}
	}
	return found, lines.Err()
}
