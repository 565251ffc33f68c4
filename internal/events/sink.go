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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	cloudevent "github.com/cloudevents/sdk-go/v2/event"
)

// Event is one event on its way out: what the outbox holds, and the program it
// comes from.
type Event struct {
	// ID is unique within Source and the same on every attempt, so that a
	// receiver drops a duplicate by it.
	ID string
	// Source names the program, Type what happened, Subject whom it is about.
	Source, Type, Subject string
	// Time is the ledger's time of the change.
	Time time.Time
	// Data is the event's JSON data (accrualapi's event types).
	Data []byte
}

// ContentType is the structured mode of CloudEvents' JSON format: the request
// body is the whole event, attributes and data, so that a webhook signature
// covers every attribute, not only the data.
const ContentType = "application/cloudevents+json; charset=utf-8"

// CloudEvent is e as a CloudEvents 1.0 event, checked by the SDK.
func (e Event) CloudEvent() (cloudevent.Event, error) {
	ce := cloudevent.New(cloudevent.CloudEventsVersionV1)
	ce.SetID(e.ID)
	ce.SetSource(e.Source)
	ce.SetType(e.Type)
	ce.SetSubject(e.Subject)
	ce.SetTime(e.Time)
	if err := ce.SetData(cloudevent.ApplicationJSON, json.RawMessage(e.Data)); err != nil {
		return ce, fmt.Errorf("event %s: %w", e.ID, err)
	}
	if err := ce.Validate(); err != nil {
		return ce, fmt.Errorf("event %s: %w", e.ID, err)
	}
	return ce, nil
}

// Structured is the event in the structured JSON mode.
func (e Event) Structured() ([]byte, error) {
	ce, err := e.CloudEvent()
	if err != nil {
		return nil, err
	}
	return json.Marshal(ce)
}

// Sink is where events go.
type Sink interface {
	// Send delivers one event; nil means the receiver took it.
	Send(ctx context.Context, e Event) error
}

// HTTPSink posts each event as a structured CloudEvent, signed per the
// Standard Webhooks specification when it has a signer. A 2xx answer is a
// delivery; anything else, or no answer within the client's timeout, fails
// the attempt.
type HTTPSink struct {
	URL    string
	Signer *Signer // nil sends unsigned
	Client *http.Client
	// Now is the time of an attempt (the webhook-timestamp header); the wall
	// clock when nil.
	Now func() time.Time
}

// ErrRefused is an answer other than 2xx.
var ErrRefused = errors.New("the receiver refused the event")

// Send posts e.
func (s *HTTPSink) Send(ctx context.Context, e Event) error {
	body, err := e.Structured()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("User-Agent", "treue-events/1")
	if s.Signer != nil {
		now := time.Now
		if s.Now != nil {
			now = s.Now
		}
		for k, v := range s.Signer.Headers(e.ID, now(), body) {
			req.Header[k] = v
		}
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode/100 == 2 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	return fmt.Errorf("%w: HTTP %d %s", ErrRefused, resp.StatusCode, bytes.TrimSpace(bytes.ToValidUTF8(snippet, nil)))
}

// Backoff is how long a failed delivery waits before its next attempt: twice
// as long after each failure, from Base up to Max, with "equal jitter" (half
// the wait fixed, half random), so that the deliveries that failed together do
// not come back together.
type Backoff struct {
	Base, Max time.Duration
}

// DefaultBackoff waits 1 s after the first failure and at most 5 min.
var DefaultBackoff = Backoff{Base: time.Second, Max: 5 * time.Minute}

// After is the wait after the attempts-th failure (1 for the first).
func (b Backoff) After(attempts int) time.Duration {
	d := b.Base
	for i := 1; i < attempts && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	half := d / 2
	return half + rand.N(d-half+1)
}
