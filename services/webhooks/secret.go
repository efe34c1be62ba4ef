// Package webhooks delivers an application's events to the HTTP endpoints
// its admins configure (PROTOCOL §3 /webhooks): each webhook reads the log
// through a durable consumer of its own, in order, at least once, signed,
// retried with backoff and parked after bounded attempts, so a slow or dead
// endpoint delays nothing but itself.
package webhooks

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Sealer encrypts webhook secrets for the log. The log is readable by the
// application's services, which must not be able to sign as chatd; the key
// derives from chatd's JWT secret, which every chatd of a deployment shares.
type Sealer struct{ aead cipher.AEAD }

// NewSealer derives the sealing key from secret.
func NewSealer(secret []byte) (*Sealer, error) {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("chat webhook secrets v1"))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

const sealedPrefix = "v1."

// Seal encrypts the secret of webhook id of app; the result opens only for
// the same app and id.
func (s *Sealer) Seal(app, id, secret string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := s.aead.Seal(nonce, nonce, []byte(secret), boundTo(app, id))
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts what Seal made for the same app and id.
func (s *Sealer) Open(app, id, sealed string) (string, error) {
	rest, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return "", errors.New("sealed secret: unknown format")
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", errors.New("sealed secret: malformed")
	}
	plain, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], boundTo(app, id))
	if err != nil {
		return "", fmt.Errorf("sealed secret: does not open (another deployment's JWT secret?): %w", err)
	}
	return string(plain), nil
}

func boundTo(app, id string) []byte { return []byte(app + "\x00" + id) }

// NewSecret returns a random signing secret (256 bits, hex).
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// Sign is the X-Chat-Signature of body under secret.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
