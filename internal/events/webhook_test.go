/*
Copyright 2026 The treue authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package events

import (
	"errors"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The specification's test vector (the reference library's TestWebhookSign).
func TestTheSignatureIsTheSpecificationsTestVector(t *testing.T) {
	s, err := NewSigner("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	h := s.Headers("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if got, want := h.Get(HeaderSignature), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
	if h.Get(HeaderTimestamp) != "1614265330" || h.Get(HeaderID) != "msg_p5jXN8AQM9LWM0D4loKWxJek" {
		t.Errorf("headers %v", h)
	}
}

// A receiver verifies with the reference library, independent of this signer:
// during a rotation one that knows the old secret and one that knows the new
// both accept; a changed body, id or timestamp, or another secret, does not.
func TestAReceiverVerifiesWithTheReferenceLibrary(t *testing.T) {
	old, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	next, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	rotating, err := NewSigner(old, next)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"specversion":"1.0","type":"dev.treue.points.earned","id":"e-1"}`)
	h := rotating.Headers("e-1", time.Now(), body)
	if n := len(strings.Fields(h.Get(HeaderSignature))); n != 2 {
		t.Fatalf("%d signatures while rotating, want 2", n)
	}
	verifier := func(secret string) *standardwebhooks.Webhook {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		return wh
	}
	for _, secret := range []string{old, next} {
		if err := verifier(secret).Verify(body, h); err != nil {
			t.Errorf("a receiver with one of the rotating secrets refused: %v", err)
		}
	}
	if err := verifier(other).Verify(body, h); err == nil {
		t.Error("a receiver with another secret accepted")
	}
	tampered := []byte(strings.Replace(string(body), "e-1", "e-2", 1))
	if err := verifier(old).Verify(tampered, h); err == nil {
		t.Error("a changed body was accepted")
	}
	for _, header := range []string{HeaderID, HeaderTimestamp} {
		changed := h.Clone()
		changed.Set(header, h.Get(header)+"1")
		if err := verifier(old).Verify(body, changed); err == nil {
			t.Errorf("a changed %s was accepted", header)
		}
	}
	// A request from outside the receiver's tolerance (five minutes) is a replay.
	stale := rotating.Headers("e-1", time.Now().Add(-time.Hour), body)
	if err := verifier(old).Verify(body, stale); err == nil {
		t.Error("an hour-old request was accepted")
	}
}

func TestSecretsAreChecked(t *testing.T) {
	for _, bad := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!", "whsec_c2hvcnQ="} {
		if _, err := NewSigner(bad); !errors.Is(err, ErrSecret) {
			t.Errorf("secret %q: %v, want ErrSecret", bad, err)
		}
	}
	if _, err := NewSigner(); !errors.Is(err, ErrSecret) {
		t.Errorf("no secret: %v", err)
	}
	s, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if key, err := ParseSecret(s); err != nil || len(key) != newSecretBytes {
		t.Errorf("a new secret %q: %d bytes, %v", s, len(key), err)
	}
}
