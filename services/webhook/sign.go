package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
)

// The headers of the Standard Webhooks specification.
const (
	// HeaderID carries the message id, the same on every attempt, so a
	// receiver can drop a message it has already handled.
	HeaderID = "webhook-id"
	// HeaderTimestamp carries the Unix time of the attempt in seconds;
	// receivers refuse one too far from their clock (replays).
	HeaderTimestamp = "webhook-timestamp"
	// HeaderSignature carries one "v1,<signature>" per secret.
	HeaderSignature = "webhook-signature"
)

// Sign returns the webhook-signature value for one attempt: for each key, in
// order (the current secret's first), "v1," and the standard base64 of
// HMAC-SHA256(key, "{id}.{timestamp}.{body}"), separated by spaces. During a
// rotation a receiver accepts the message if any signature verifies with the
// secret it knows.
func Sign(keys [][]byte, id string, timestamp int64, body []byte) string {
	sigs := make([]string, 0, len(keys))
	for _, k := range keys {
		mac := hmac.New(sha256.New, k)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write(strconv.AppendInt(nil, timestamp, 10))
		mac.Write([]byte{'.'})
		mac.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " ")
}
