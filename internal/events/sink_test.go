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
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	cloudevent "github.com/cloudevents/sdk-go/v2/event"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func sample() Event {
	return Event{ID: "entry-42", Source: "/apis/loyalty.treue.dev/v1alpha1/namespaces/stadtbonus/loyaltyprograms/stadtbonus",
		Type: "dev.treue.points.earned", Subject: "anna", Time: time.Date(2026, 3, 2, 10, 0, 0, 123456000, time.UTC),
		Data: []byte(`{"entry":{"id":42,"points":50},"result":{"entryId":42}}`)}
}

// The structured body is a CloudEvent the SDK reads back whole.
func TestAnEventIsAStructuredCloudEvent(t *testing.T) {
	e := sample()
	body, err := e.Structured()
	if err != nil {
		t.Fatal(err)
	}
	var got cloudevent.Event
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("the SDK cannot read %s: %v", body, err)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
	if got.SpecVersion() != "1.0" || got.ID() != e.ID || got.Source() != e.Source || got.Type() != e.Type || got.Subject() != e.Subject ||
		!got.Time().Equal(e.Time) || got.DataContentType() != "application/json" {
		t.Fatalf("read back: %s", got)
	}
	var data, want any
	if json.Unmarshal(got.Data(), &data) != nil || json.Unmarshal(e.Data, &want) != nil || !jsonEqual(data, want) {
		t.Fatalf("data %s, want %s", got.Data(), e.Data)
	}
	// The data is JSON in the body, not a string or base64.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || !strings.HasPrefix(string(raw["data"]), "{") {
		t.Fatalf("data in the body: %s", raw["data"])
	}
	bad := e
	bad.ID = ""
	if _, err := bad.Structured(); err == nil {
		t.Fatal("an event without an id was encoded")
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// A receiver that verifies with the reference Standard Webhooks library takes
// the sink's request; an answer other than 2xx fails the send.
func TestTheHTTPSinkPostsSignedEventsAReceiverVerifies(t *testing.T) {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	fail := false
	var received []cloudevent.Event
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := verifier.Verify(body, r.Header); err != nil {
			http.Error(w, "bad signature: "+err.Error(), http.StatusUnauthorized)
			return
		}
		if r.Header.Get("Content-Type") != ContentType || r.Header.Get(HeaderID) != "entry-42" {
			http.Error(w, "wrong headers", http.StatusBadRequest)
			return
		}
		if fail {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		var ce cloudevent.Event
		if err := json.Unmarshal(body, &ce); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		received = append(received, ce)
	}))
	defer srv.Close()
	signer, err := NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	sink := &HTTPSink{URL: srv.URL, Signer: signer, Client: srv.Client()}
	if err := sink.Send(context.Background(), sample()); err != nil {
		t.Fatalf("sending: %v", err)
	}
	if len(received) != 1 || received[0].ID() != "entry-42" {
		t.Fatalf("received %v", received)
	}
	fail = true
	err = sink.Send(context.Background(), sample())
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "down for maintenance") {
		t.Fatalf("sending to a receiver that is down: %v", err)
	}
	// Signed with another secret, the receiver refuses it.
	other, _ := NewSecret()
	wrong, _ := NewSigner(other)
	sink.Signer = wrong
	if err := sink.Send(context.Background(), sample()); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("a wrong signature: %v", err)
	}
}

func TestBackoffDoublesWithJitterUpToItsBound(t *testing.T) {
	b := Backoff{Base: time.Second, Max: time.Minute}
	for attempts, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 6: 32 * time.Second, 7: time.Minute, 40: time.Minute} {
		lo, hi := want, time.Duration(0)
		for range 200 {
			d := b.After(attempts)
			if d < want/2 || d > want {
				t.Fatalf("after %d failures: %v, want %v to %v", attempts, d, want/2, want)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		if hi-lo < want/8 {
			t.Fatalf("after %d failures the waits spread only from %v to %v: no jitter", attempts, lo, hi)
		}
	}
}

// The README's example request verifies with the reference library, and is
// what this package sends for the example event.
func TestTheREADMEsExampleRequestVerifies(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := string(readme)
	start := strings.Index(block, "```http\nPOST /hooks/treue")
	if start < 0 {
		t.Fatal("the README has no example request")
	}
	block = block[start+len("```http\n"):]
	block = block[:strings.Index(block, "\n```")]
	head, body, ok := strings.Cut(block, "\n\n")
	if !ok {
		t.Fatal("the example request has no body")
	}
	h := http.Header{}
	for _, line := range strings.Split(head, "\n")[1:] {
		k, v, _ := strings.Cut(line, ": ")
		h.Set(k, v)
	}
	wh, err := standardwebhooks.NewWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.VerifyIgnoringTimestamp([]byte(body), h); err != nil {
		t.Fatalf("the README's request does not verify: %v", err)
	}
	if h.Get("Content-Type") != ContentType {
		t.Fatalf("the README's Content-Type %q is not what is sent, %q", h.Get("Content-Type"), ContentType)
	}
	var ce cloudevent.Event
	if err := json.Unmarshal([]byte(body), &ce); err != nil || ce.Validate() != nil {
		t.Fatalf("the README's body is not a CloudEvent: %v", err)
	}
	again, err := Event{ID: ce.ID(), Source: ce.Source(), Type: ce.Type(), Subject: ce.Subject(), Time: ce.Time(), Data: ce.Data()}.Structured()
	if err != nil || string(again) != body {
		t.Fatalf("this package would send another body:\n%s\n%s", again, body)
	}
}
