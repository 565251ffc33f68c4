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
	"net"
	"testing"
	"time"

	cloudevent "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startNATS runs a real nats-server (the module's, in this process) with
// JetStream on a directory of the test's.
func startNATS(t *testing.T, port int, dir string) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(s.Shutdown)
	return s
}

// The sink publishes structured CloudEvents to the stream it creates, one per
// event id however often it is sent; while the server is down a publish fails
// (the dispatcher retries it), and once it is back the sink reconnects.
func TestTheNATSSinkPublishesEachEventOnceToJetStream(t *testing.T) {
	dir := t.TempDir()
	srv := startNATS(t, -1, dir)
	url := srv.ClientURL()
	sink := &NATSSink{URL: url, Subject: "stadtbonus.events", Stream: "STADTBONUS", Options: []nats.Option{nats.Timeout(2 * time.Second)}}
	defer sink.Close()
	ctx := context.Background()
	first, second := sample(), sample()
	second.ID, second.Type = "entry-43", "dev.treue.points.redeemed"
	for _, e := range []Event{first, first, second} {
		if err := sink.Send(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, "STADTBONUS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil || info.State.Msgs != 2 {
		t.Fatalf("the stream holds %v messages (%v), want 2: a repeat is dropped", info.State.Msgs, err)
	}
	for seq, want := range map[uint64][2]string{1: {"stadtbonus.events.points.earned", "entry-42"}, 2: {"stadtbonus.events.points.redeemed", "entry-43"}} {
		m, err := stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var ce cloudevent.Event
		if m.Subject != want[0] || json.Unmarshal(m.Data, &ce) != nil || ce.ID() != want[1] || ce.Validate() != nil ||
			m.Header.Get("Nats-Msg-Id") != want[1] || m.Header.Get("Content-Type") != ContentType {
			t.Fatalf("message %d: %s %s %v", seq, m.Subject, m.Data, m.Header)
		}
	}
	// Down: the publish fails; back on the same port and store: it goes through.
	port := srv.Addr().(*net.TCPAddr).Port
	srv.Shutdown()
	srv.WaitForShutdown()
	third := sample()
	third.ID = "entry-44"
	if err := sink.Send(ctx, third); err == nil {
		t.Fatal("a publish to a server that is down succeeded")
	}
	startNATS(t, port, dir)
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := sink.Send(ctx, third)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sink did not reconnect: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The checker's own connection reconnects too: read until it answers.
	for {
		info, err = stream.Info(ctx)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || info.State.Msgs != 3 {
		t.Fatalf("after the outage the stream holds %v messages (%v), want 3", info.State.Msgs, err)
	}
}
