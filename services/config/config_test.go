package config

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	t.Parallel()
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("the defaults must be valid: %v", err)
	}
}

// TestValidateRejectsWhatConstructorsReject feeds every value that a
// constructor refuses (the router's CORS origins and redirect target, the
// hasher's parameters and peppers, the session verifier's secrets, the SMTP
// mailer's policy, the limiter's rates, ...) through Validate: a
// configuration that loads must never make a constructor fail or panic
// later.
func TestValidateRejectsWhatConstructorsReject(t *testing.T) {
	t.Parallel()
	type row struct {
		name string
		edit func(*Config)
		want string // a piece of the error
	}
	var rows []row
	// The router's rejected CORS origins and change-password URLs.
	for _, o := range []string{"*", "null", "", "https://allowed.example/", "https://*.example", "allowed.example", "ftp://a.example"} {
		rows = append(rows, row{"CORS origin " + o, func(c *Config) { c.HTTP.CORSAllowedOrigins = []string{o} }, "cors_allowed_origins"})
	}
	for _, u := range []string{"//evil.example/x", "evil.example", "javascript:alert(1)", "ftp://a.example/",
		`/\evil.example`, `/a\b`, "https://", "/a b", "/x\r\nSet-Cookie: a=b"} {
		rows = append(rows, row{"change-password URL " + u, func(c *Config) { c.HTTP.ChangePasswordURL = u }, "change_password_url"})
	}
	pepper := strings.Repeat("p", MinPepperBytes)
	rows = append(rows,
		row{"trusted proxy not a CIDR", func(c *Config) { c.HTTP.TrustedProxies = []string{"10.0.0.1"} }, "trusted_proxies"},
		row{"TLS cert without key", func(c *Config) { c.HTTP.TLSCert = "cert.pem" }, "tls_key"},
		row{"no shutdown time", func(c *Config) { c.HTTP.ShutdownTimeout = 0 }, "shutdown_timeout"},
		row{"database URL of another kind", func(c *Config) { c.Database.URL = "mysql://x" }, "postgres://"},
		row{"no SQLite path", func(c *Config) { c.Database.Path = " " }, "database.path"},
		row{"token TTL over an hour", func(c *Config) { c.Reset.TokenTTL = 2 * time.Hour }, "token_ttl"},
		row{"token TTL zero", func(c *Config) { c.Reset.TokenTTL = 0 }, "token_ttl"},
		row{"token TTL under a second", func(c *Config) { c.Reset.TokenTTL = 999 * time.Millisecond }, "token_ttl"},
		row{"reset URL over plain http", func(c *Config) { c.Reset.URL = "http://app.example.org/password-reset" }, "reset.url"},
		row{"reset URL with a query", func(c *Config) { c.Reset.URL = "https://app.example.org/p?x=1" }, "reset.url"},
		row{"reset URL relative", func(c *Config) { c.Reset.URL = "/password-reset" }, "reset.url"},
		row{"short reset token key", func(c *Config) { c.Reset.TokenKey = "short" }, "RESET_TOKEN_KEY"},
		row{"sign-in URL over plain http", func(c *Config) { c.Reset.SignInURL = "http://app.example.org/sign-in" }, "reset.sign_in_url"},
		row{"sign-in URL relative", func(c *Config) { c.Reset.SignInURL = "/sign-in" }, "reset.sign_in_url"},
		row{"sign-in URL with user info", func(c *Config) { c.Reset.SignInURL = "https://app.example.org@evil.example/" }, "reset.sign_in_url"},
		row{"sign-in URL of another scheme", func(c *Config) { c.Reset.SignInURL = "javascript:alert(1)" }, "reset.sign_in_url"},
		row{"unknown mail provider", func(c *Config) { c.Mail.Provider = "pigeon" }, "pigeon"},
		row{"sendgrid without a key", func(c *Config) { c.Mail.Provider = ProviderSendGrid }, "SENDGRID_API_KEY"},
		row{"smtp without a host", func(c *Config) { c.Mail.Provider = ProviderSMTP }, "mail.smtp.host"},
		row{"smtp with an unknown TLS policy", func(c *Config) {
			c.Mail.Provider, c.Mail.SMTP.Host, c.Mail.SMTP.TLS = ProviderSMTP, "smtp.example.org", "sometimes"
		}, "mail.smtp.tls"},
		row{"from not an address", func(c *Config) { c.Mail.From = "nobody" }, "mail.from"},
		row{"blank support contact", func(c *Config) { c.Mail.SupportContact = " " }, "support_contact"},
		row{"no product name", func(c *Config) { c.Mail.ProductName = " " }, "product_name"},
		row{"product name on two lines", func(c *Config) { c.Mail.ProductName = "Acme\r\nBcc: x@evil.example" }, "product_name"},
		row{"product name too long", func(c *Config) { c.Mail.ProductName = strings.Repeat("é", MaxProductName+1) }, "product_name"},
		row{"from name on two lines", func(c *Config) { c.Mail.FromName = "Acme\nBcc: x@evil.example" }, "from_name"},
		row{"product URL over plain http", func(c *Config) { c.Mail.ProductURL = "http://acme.example" }, "product_url"},
		row{"product URL relative", func(c *Config) { c.Mail.ProductURL = "/home" }, "product_url"},
		row{"product URL with user info", func(c *Config) { c.Mail.ProductURL = "https://acme.example@evil.example" }, "product_url"},
		row{"unsupported default locale", func(c *Config) { c.Mail.DefaultLocale = "pt" }, "default_locale"},
		row{"default locale with a region", func(c *Config) { c.Mail.DefaultLocale = "de-DE" }, "default_locale"},
		row{"emailed change-password URL over plain http", func(c *Config) {
			c.HTTP.ChangePasswordURL = "http://app.example.org/forgot"
		}, "linked from the notice email"},
		row{"no workers", func(c *Config) { c.Mail.Workers = 0 }, "mail.workers"},
		row{"log mailer with PostgreSQL", func(c *Config) {
			c.Database.URL, c.Auth.JWTSecret = "postgres://db/x", pepper
		}, "allow_log_provider"},
		row{"PostgreSQL without a session key", func(c *Config) {
			c.Database.URL, c.Mail.AllowLogProvider = "postgres://db/x", true
		}, "JWT_SECRET"},
		row{"short JWT secret", func(c *Config) { c.Auth.JWTSecret = "short" }, "JWT_SECRET"},
		row{"JWT secret and JWKS", func(c *Config) { c.Auth.JWTSecret, c.Auth.JWKSURL = pepper, "https://keys.example/jwks" }, "only one"},
		row{"JWKS over plain http", func(c *Config) { c.Auth.JWKSURL = "http://keys.example/jwks" }, "jwks_url"},
		row{"negative maximum token age", func(c *Config) { c.Auth.MaxTokenAge = -time.Minute }, "max_token_age"},
		row{"argon2 memory below the floor", func(c *Config) { c.Password.Memory = FloorArgon2Memory - 1 }, "argon2_memory_kib"},
		row{"argon2 one pass", func(c *Config) { c.Password.Time = 1 }, "argon2_time"},
		row{"argon2 memory above 1 GiB", func(c *Config) { c.Password.Memory = MaxArgon2Memory + 1 }, "out of bounds"},
		row{"argon2 no lanes", func(c *Config) { c.Password.Threads = 0 }, "out of bounds"},
		row{"argon2 under 8 KiB per lane", func(c *Config) { c.Password.Memory, c.Password.Threads = 19456, 64; c.Password.Memory = 8*64 - 1 }, "out of bounds"},
		row{"negative hash slots", func(c *Config) { c.Password.HashSlots = -1 }, "hash_slots"},
		row{"no hash wait", func(c *Config) { c.Password.HashWait = 0 }, "hash_wait"},
		row{"short pepper", func(c *Config) { c.Password.Pepper = "short" }, "at least 32 bytes"},
		row{"pepper id with a comma", func(c *Config) { c.Password.Pepper, c.Password.PepperID = pepper, "1,2" }, "[A-Za-z0-9_-]"},
		row{"old pepper without a colon", func(c *Config) { c.Password.OldPeppers = pepper }, "not id:secret"},
		row{"short old pepper", func(c *Config) { c.Password.OldPeppers = "0:short" }, "at least 32 bytes"},
		row{"old pepper reuses the current id", func(c *Config) { c.Password.Pepper, c.Password.OldPeppers = pepper, "1:"+pepper }, "twice"},
		row{"min score 0", func(c *Config) { c.Password.MinScore = 0 }, "min_score"},
		row{"min score 5", func(c *Config) { c.Password.MinScore = 5 }, "min_score"},
		row{"limit of zero", func(c *Config) { c.Limits.ResetIPPerMinute = 0 }, "reset_per_ip_per_minute"},
		row{"100 wrong old passwords", func(c *Config) { c.Limits.ChangeFailures = 100 }, "change_failures"},
		row{"back-off above its maximum", func(c *Config) { c.Limits.ChangeBackoff = 2 * time.Hour }, "change_backoff"},
		row{"unknown log level", func(c *Config) { c.Log.Level = "loud" }, "log.level"},
	)
	// The webhook section; a malformed secret is built around 32 p's, so the
	// check below catches an error that echoes it.
	const hookURL, hookSecret = "https://app.example.org/hooks", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	notBase64 := WebhookSecretPrefix + pepper + "!"
	short := WebhookSecretPrefix + base64.StdEncoding.EncodeToString([]byte(pepper[:MinWebhookSecretBytes-1]))
	hook := func(url, secret, old string) func(*Config) {
		return func(c *Config) { c.Webhook = Webhook{URL: url, Secret: secret, OldSecrets: old} }
	}
	rows = append(rows,
		row{"webhook URL without a secret", hook(hookURL, "", ""), "needs ACCOUNTPW_WEBHOOK_SECRET"},
		row{"webhook secret without a URL", hook("", hookSecret, ""), "need webhook.url"},
		row{"old webhook secrets without a URL", hook("", "", hookSecret), "need webhook.url"},
		row{"old webhook secrets without a current one", hook(hookURL, "", hookSecret), "OLD_SECRETS needs ACCOUNTPW_WEBHOOK_SECRET"},
		row{"webhook URL over plain http", hook("http://app.example.org/hooks", hookSecret, ""), "webhook.url"},
		row{"webhook URL relative", hook("/hooks", hookSecret, ""), "webhook.url"},
		row{"webhook URL with user info", hook("https://user:"+pepper+"@app.example.org/hooks", hookSecret, ""), "webhook.url"},
		row{"webhook URL of another scheme", hook("ftp://app.example.org/hooks", hookSecret, ""), "webhook.url"},
		row{"webhook secret without whsec_", hook(hookURL, strings.TrimPrefix(hookSecret, WebhookSecretPrefix), ""), "ACCOUNTPW_WEBHOOK_SECRET must be"},
		row{"webhook secret not base64", hook(hookURL, notBase64, ""), "ACCOUNTPW_WEBHOOK_SECRET must be"},
		row{"webhook secret of 23 bytes", hook(hookURL, short, ""), "ACCOUNTPW_WEBHOOK_SECRET must be"},
		row{"old webhook secret not base64", hook(hookURL, hookSecret, hookSecret+","+notBase64), "OLD_SECRETS entry 2"},
		row{"old webhook secret of 23 bytes", hook(hookURL, hookSecret, short), "OLD_SECRETS entry 1"},
		row{"empty old webhook secret entry", hook(hookURL, hookSecret, hookSecret+","), "OLD_SECRETS entry 2"},
	)
	for _, r := range rows {
		c := Default()
		r.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), r.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", r.name, err, r.want)
		}
		if err != nil && strings.Contains(err.Error(), strings.Repeat("p", MinPepperBytes)) {
			t.Errorf("%s: the error echoes a secret: %v", r.name, err)
		}
		for _, v := range Variables() {
			if v.Key != "" && err != nil && strings.Contains(err.Error(), v.Key+" ") && !strings.Contains(err.Error(), v.Name) {
				t.Errorf("%s: the error names %s but not %s: %v", r.name, v.Key, v.Name, err)
			}
		}
	}
}

// The sender's display name: an explicit from_name wins, then a name
// written in from, then the product name.
func TestSender(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, from, fromName, product string
		want                          string
	}{
		{"product name by default", "no-reply@acme.example", "", "Acme", `"Acme" <no-reply@acme.example>`},
		{"from_name wins", "Acme Team <no-reply@acme.example>", "Acme Support", "Acme", `"Acme Support" <no-reply@acme.example>`},
		{"name written in from", "Acme Team <no-reply@acme.example>", "", "Acme", `"Acme Team" <no-reply@acme.example>`},
		{"non-ASCII name", "no-reply@acme.example", "", "Café", `=?utf-8?q?Caf=C3=A9?= <no-reply@acme.example>`},
	}
	for _, tt := range tests {
		m := DefaultMail()
		m.From, m.FromName, m.ProductName = tt.from, tt.fromName, tt.product
		a := m.Sender()
		if got := a.String(); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
}

// The notice's "this wasn't me" link comes from configuration only.
func TestRequestPageURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, reset, change, want string }{
		{"built-in page on reset.url's origin", "https://id.acme.example/password-reset", "",
			"https://id.acme.example/password-reset/request"},
		{"local change-password path", "https://id.acme.example:8443/p", "/account/forgot",
			"https://id.acme.example:8443/account/forgot"},
		{"absolute change-password URL", "https://id.acme.example/p", "https://www.acme.example/forgot",
			"https://www.acme.example/forgot"},
	}
	for _, tt := range tests {
		c := Default()
		c.Reset.URL, c.HTTP.ChangePasswordURL = tt.reset, tt.change
		if got := c.RequestPageURL(); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

func TestPeppers(t *testing.T) {
	t.Parallel()
	a, b := strings.Repeat("a", 32), strings.Repeat("b", 32)
	pw := Password{Pepper: b, PepperID: "2", OldPeppers: " 1:" + a + " "}
	got, err := pw.Peppers()
	if err != nil || string(got["1"]) != a || string(got["2"]) != b || len(got) != 2 {
		t.Fatalf("got %v %v, want ids 1 and 2", got, err)
	}
	if pw.CurrentPepperID() != "2" {
		t.Errorf("current id %q, want 2", pw.CurrentPepperID())
	}
	if (Password{PepperID: "1"}).CurrentPepperID() != "" {
		t.Error("without a pepper there is no current id")
	}
}

func TestLoadFileThenEnvironment(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("password:\n  argon2_time: 5\nlimits:\n  change_failures: 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ACCOUNTPW_PASSWORD_ARGON2_TIME": "4", "ACCOUNTPW_HTTP_TRUSTED_PROXIES": "10.0.0.0/8,192.0.2.1/32"}
	c, err := Load(path, true, environ(env))
	if err != nil {
		t.Fatal(err)
	}
	if c.Password.Time != 4 || c.Limits.ChangeFailures != 7 || c.Password.Memory != DefaultArgon2Memory {
		t.Errorf("got time %d, change_failures %d, memory %d; want 4 (env over file), 7 (file), %d (default)",
			c.Password.Time, c.Limits.ChangeFailures, c.Password.Memory, DefaultArgon2Memory)
	}
	if p, _ := c.HTTP.TrustedProxyPrefixes(); len(p) != 2 {
		t.Errorf("trusted proxies %v, want two", p)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), true, nil); err == nil {
		t.Error("an explicit missing file must be an error")
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), false, nil); err != nil {
		t.Errorf("a missing default file is fine, got %v", err)
	}
}

func TestWebhookKeys(t *testing.T) {
	t.Parallel()
	cur, old := make([]byte, 32), make([]byte, MinWebhookSecretBytes)
	for i := range cur {
		cur[i] = byte(i)
	}
	old[0] = 9
	w := Webhook{URL: "http://localhost:9000/hooks?source=accountpw", // loopback may use http; a query is fine
		Secret:     WebhookSecretPrefix + base64.StdEncoding.EncodeToString(cur),
		OldSecrets: " " + WebhookSecretPrefix + base64.RawStdEncoding.EncodeToString(old) + " "}
	if err := w.Validate(); err != nil || !w.Enabled() {
		t.Fatalf("got %v (enabled %v), want a valid, enabled section", err, w.Enabled())
	}
	keys, err := w.Keys()
	if err != nil || len(keys) != 2 || string(keys[0]) != string(cur) || string(keys[1]) != string(old) {
		t.Fatalf("got %x %v, want the current key, then the old one", keys, err)
	}
	if (Webhook{}).Enabled() || (Webhook{}).Validate() != nil {
		t.Error("an empty section is valid and sends nothing")
	}
}

// environ turns a map into os.Environ's "NAME=value" form.
func environ(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}
