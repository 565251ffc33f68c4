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
	"fmt"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATSSink publishes each event to NATS JetStream, for platform teams that
// feed a warehouse: the structured CloudEvent on "<Subject>.<type>", with the
// event's id as Nats-Msg-Id, so that JetStream drops a repeat within its
// duplicate window. The stream is created (or its subjects set) on the first
// publish; a publish counts once JetStream acknowledged it, stored.
type NATSSink struct {
	URL, Subject, Stream string
	// Options are the connection's (credentials, name).
	Options []nats.Option

	mu sync.Mutex
	nc *nats.Conn
	js jetstream.JetStream
}

// connect dials and ensures the stream, once; a failure is retried on the next
// publish.
func (s *NATSSink) connect(ctx context.Context) (jetstream.JetStream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.js != nil && s.nc.IsConnected() {
		return s.js, nil
	}
	if s.nc != nil {
		s.nc.Close()
		s.nc, s.js = nil, nil
	}
	opts := append([]nats.Option{nats.Name("treue-events")}, s.Options...)
	nc, err := nats.Connect(s.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w", s.URL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: s.Stream, Subjects: []string{s.Subject + ".>"}}); err != nil {
		nc.Close()
		return nil, fmt.Errorf("ensuring JetStream stream %s: %w", s.Stream, err)
	}
	s.nc, s.js = nc, js
	return js, nil
}

// Send publishes e and waits for JetStream's acknowledgement.
func (s *NATSSink) Send(ctx context.Context, e Event) error {
	body, err := e.Structured()
	if err != nil {
		return err
	}
	js, err := s.connect(ctx)
	if err != nil {
		return err
	}
	msg := nats.NewMsg(s.Subject + "." + strings.TrimPrefix(e.Type, "dev.treue."))
	msg.Header.Set("Content-Type", ContentType)
	msg.Data = body
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(e.ID), jetstream.WithExpectStream(s.Stream)); err != nil {
		return fmt.Errorf("publishing to JetStream stream %s: %w", s.Stream, err)
	}
	return nil
}

// Close closes the connection.
func (s *NATSSink) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nc != nil {
		s.nc.Close()
	}
}
