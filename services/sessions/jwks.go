package sessions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	neturl "net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// Timing of the JWKS fetches. keyfunc's own HTTP client would refresh
// hourly only, wait up to a minute per request, and log its failures through
// slog.Default in plain text; the fetching is done here instead, and keyfunc
// only reads the keys of each fetched set.
const (
	jwksTimeout       = 5 * time.Second  // one fetch
	jwksRefresh       = time.Hour        // refresh of a set that loaded
	jwksRetryMin      = time.Second      // first retry after a failed fetch
	jwksRetryMax      = time.Minute      // longest wait between retries
	jwksUnknownKIDGap = 30 * time.Second // at most one fetch this often for a kid not in the set
	jwksMaxBytes      = 1 << 20
)

// errNoKeys is returned while no key set has been fetched yet.
var errNoKeys = errors.New("the JWKS has not been fetched yet")

// keySet holds the keys of a JWKS URL: fetched at start, refreshed in the
// background, fetched again at once (at most every jwksUnknownKIDGap) when a
// token names a kid the set lacks, as during a key rotation.
type keySet struct {
	url    string
	client *http.Client
	log    *slog.Logger

	keys atomic.Pointer[keyfunc.Keyfunc] // nil until a fetch succeeded

	mu        sync.Mutex // one fetch at a time
	lastFetch time.Time
	// unknownKIDGap is jwksUnknownKIDGap; tests shorten it.
	unknownKIDGap time.Duration
}

// newKeySet fetches the set once, then keeps it fresh until ctx ends. A
// failed first fetch does not stop the start: the service is simply not
// ready (ready) until a retry succeeds.
func newKeySet(ctx context.Context, url string, log *slog.Logger) *keySet {
	k := &keySet{url: url, client: &http.Client{Timeout: jwksTimeout}, log: log, unknownKIDGap: jwksUnknownKIDGap}
	err := k.fetch(ctx)
	go k.loop(ctx, err == nil)
	return k
}

// ready is nil once a key set has loaded.
func (k *keySet) ready() error {
	if k.keys.Load() == nil {
		return errNoKeys
	}
	return nil
}

// loop refreshes the set: hourly once it has loaded, and after a failure
// with a backoff from a second to a minute (keeping the keys it had).
func (k *keySet) loop(ctx context.Context, loaded bool) {
	wait := jwksRetryMin
	next := jwksRetryMin
	if loaded {
		next = jwksRefresh
	}
	for {
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := k.fetch(ctx); err != nil {
			next, wait = wait, min(2*wait, jwksRetryMax)
			continue
		}
		next, wait = jwksRefresh, jwksRetryMin
	}
}

// fetch loads the set once and, if it parses, replaces the keys.
func (k *keySet) fetch(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.lastFetch = time.Now()
	err := k.load(ctx)
	if err != nil && ctx.Err() == nil {
		// The host only: a key set's URL may carry a credential in its
		// query, and logs are read more widely than configuration.
		host := ""
		if u, perr := neturl.Parse(k.url); perr == nil {
			host = u.Host
		}
		k.log.WarnContext(ctx, "JWKS fetch failed; keeping the keys loaded before, if any",
			slog.String("host", host), slog.String("error", err.Error()))
	}
	return err
}

func (k *keySet) load(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, jwksTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		// A *url.Error quotes the whole URL; its cause names only the host.
		if ue := (*neturl.Error)(nil); errors.As(err, &ue) {
			return ue.Err
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET answered %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBytes+1))
	if err != nil {
		return err
	}
	if len(body) > jwksMaxBytes {
		return fmt.Errorf("the key set is larger than %d bytes", jwksMaxBytes)
	}
	set, err := keyfunc.NewJWKSetJSON(body)
	if err != nil {
		return err
	}
	k.keys.Store(&set)
	return nil
}

// keyfunc finds the key of a token by its kid. A kid the set lacks causes
// one fetch at once (at most every jwksUnknownKIDGap), for a key the issuer
// has just begun to use.
func (k *keySet) keyfunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		kid, ok := t.Header["kid"].(string)
		if !ok || kid == "" {
			return nil, errors.New("the token names no key (kid)")
		}
		set := k.keys.Load()
		if set == nil {
			return nil, errNoKeys
		}
		key, err := (*set).KeyfuncCtx(ctx)(t)
		if !errors.Is(err, jwkset.ErrKeyNotFound) || !k.fetchForUnknownKID(ctx) {
			return key, err
		}
		return (*k.keys.Load()).KeyfuncCtx(ctx)(t)
	}
}

// fetchForUnknownKID fetches the set unless that was done recently, and
// reports whether a new set loaded.
func (k *keySet) fetchForUnknownKID(ctx context.Context) bool {
	k.mu.Lock()
	recent := time.Since(k.lastFetch) < k.unknownKIDGap
	k.mu.Unlock()
	return !recent && k.fetch(ctx) == nil
}
