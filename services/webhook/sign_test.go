package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/accountpw/accountpw/services/config"
)

// TestSignSpecificationExample: the worked example of the Standard Webhooks
// documentation (secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, id
// msg_p5jXN8AQM9LWM0D4loKWxJek, timestamp 1614265330, body
// {"test": 2432232314}); the expected value was recomputed with Python's hmac
// module.
func TestSignSpecificationExample(t *testing.T) {
	t.Parallel()
	key, _ := base64.StdEncoding.DecodeString("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	got := Sign([][]byte{key}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// verifyPy is a receiver written from the specification alone, in Python's
// standard library, so the test does not check the signing code against
// itself. Arguments: secret, webhook-id, webhook-timestamp,
// webhook-signature; the body on stdin. It exits 0 when a v1 signature
// matches and the timestamp is within five minutes of now, else 1.
const verifyPy = `
import base64, hashlib, hmac, sys, time
secret, msg_id, ts, header = sys.argv[1:5]
body = sys.stdin.buffer.read()
assert secret.startswith("whsec_")
key = base64.b64decode(secret[len("whsec_"):])
if abs(time.time() - int(ts)) > 300:
    print("timestamp outside tolerance"); sys.exit(1)
mac = hmac.new(key, msg_id.encode() + b"." + ts.encode() + b"." + body, hashlib.sha256)
expected = base64.b64encode(mac.digest()).decode()
for sig in header.split(" "):
    version, _, value = sig.partition(",")
    if version == "v1" and hmac.compare_digest(value, expected):
        print("ok"); sys.exit(0)
print("no signature matches"); sys.exit(1)
`

// pyVerifies runs verifyPy for one received request.
func pyVerifies(t *testing.T, secret string, r received) bool {
	t.Helper()
	cmd := exec.Command("python3", "-c", verifyPy, secret, r.header.Get(HeaderID), r.header.Get(HeaderTimestamp), r.header.Get(HeaderSignature))
	cmd.Stdin = bytes.NewReader(r.body)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return true
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		return false
	}
	t.Fatalf("python3 verifier: %v: %s", err, out)
	return false
}

// received is one request a test receiver saw.
type received struct {
	header http.Header
	body   []byte
}

// recorder is a receiver that answers 204 and keeps every request.
type recorder struct {
	mu  sync.Mutex
	got []received
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.got = append(rec.got, received{r.Header.Clone(), body})
	rec.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (rec *recorder) last(t *testing.T) received {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.got) == 0 {
		t.Fatal("the receiver got nothing")
	}
	return rec.got[len(rec.got)-1]
}

const (
	secretCurrent = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	secretOld     = "whsec_c2VjcmV0LW9mLWxhc3QteWVhci0wMTIzNDU2Nzg5"
	secretOther   = "whsec_bm9ib2R5LWtub3dzLXRoaXMtb25lLTAxMjM0NTY3"
)

// TestSignaturesVerifyIndependently sends one event with a current and a
// retired secret and checks it with the Python receiver: each secret
// verifies, a third does not, a tampered body fails with both, and a second
// attempt keeps the id while its timestamp and signatures change.
func TestSignaturesVerifyIndependently(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	clock := time.Now()
	s, err := New(config.Webhook{URL: srv.URL, Secret: secretCurrent, OldSecrets: secretOld}, func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	e, _ := PasswordChanged("u-42", "change", clock, clock)
	body, _ := e.Body()
	if o := s.Send(context.Background(), "msg_2bYfJ0y1", body); !o.Delivered {
		t.Fatalf("got %+v, want delivered", o)
	}
	first := rec.last(t)
	if got := first.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type %q, want application/json", got)
	}
	if got := first.header.Get(HeaderTimestamp); got != strconv.FormatInt(clock.Unix(), 10) {
		t.Errorf("%s %q, want the attempt's Unix seconds %d", HeaderTimestamp, got, clock.Unix())
	}
	if !bytes.Equal(first.body, body) {
		t.Errorf("body %s, want the event's %s", first.body, body)
	}
	for _, tc := range []struct {
		name, secret string
		want         bool
	}{{"current secret", secretCurrent, true}, {"retired secret", secretOld, true}, {"unrelated secret", secretOther, false}} {
		if got := pyVerifies(t, tc.secret, first); got != tc.want {
			t.Errorf("%s: verifies %v, want %v", tc.name, got, tc.want)
		}
	}
	tampered := received{first.header, bytes.Replace(first.body, []byte("u-42"), []byte("u-43"), 1)}
	for _, secret := range []string{secretCurrent, secretOld} {
		if pyVerifies(t, secret, tampered) {
			t.Errorf("a tampered body verifies with %s", secret[:10])
		}
	}

	clock = clock.Add(61 * time.Second) // the retry, a minute later
	if o := s.Send(context.Background(), "msg_2bYfJ0y1", body); !o.Delivered {
		t.Fatalf("second attempt: got %+v, want delivered", o)
	}
	second := rec.last(t)
	if second.header.Get(HeaderID) != "msg_2bYfJ0y1" || first.header.Get(HeaderID) != "msg_2bYfJ0y1" {
		t.Errorf("ids %q and %q, want msg_2bYfJ0y1 on both attempts", first.header.Get(HeaderID), second.header.Get(HeaderID))
	}
	if second.header.Get(HeaderTimestamp) == first.header.Get(HeaderTimestamp) ||
		second.header.Get(HeaderSignature) == first.header.Get(HeaderSignature) {
		t.Error("the second attempt must carry its own timestamp and signatures")
	}
	if !pyVerifies(t, secretCurrent, second) || !pyVerifies(t, secretOld, second) {
		t.Error("the second attempt does not verify")
	}
}
