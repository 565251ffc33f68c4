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

package accrual

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/events"
	"github.com/treue-dev/treue/internal/ledger"
	"github.com/treue-dev/treue/internal/period"
)

// LoadedEvents is the events' configuration, checked, with the sinks built.
type LoadedEvents struct {
	Source    string
	Retention time.Duration
	Sinks     []LoadedSink
	// Reminders are the offsets before a lot's expiry of its reminders.
	Reminders []period.Period
}

// Filters are the sinks as the ledger takes them; none for no events.
func (e *LoadedEvents) Filters() []ledger.SinkFilter {
	if e == nil {
		return nil
	}
	out := make([]ledger.SinkFilter, 0, len(e.Sinks))
	for _, s := range e.Sinks {
		out = append(out, s.Filter)
	}
	return out
}

// LoadedSink is one sink ready to send.
type LoadedSink struct {
	Filter    ledger.SinkFilter
	Sink      events.Sink
	DeadAfter time.Duration
}

// Defaults of the events' configuration.
const (
	defaultRetention = 7 * 24 * time.Hour
	defaultDeadAfter = 24 * time.Hour
	// sinkTimeout bounds one attempt: a receiver that hangs fails it.
	sinkTimeout = 10 * time.Second
)

var sinkName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

// sinkClient posts events. It does not follow redirects: a receiver answers
// where it was declared, and a 3xx fails the attempt rather than send a signed
// event somewhere nobody declared.
func sinkClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Keep a connection per send in flight (the dispatcher's parallel), where
	// the default keeps two and dials again for every other request.
	t.MaxIdleConnsPerHost = dispatchParallel
	return &http.Client{
		Transport:     t,
		Timeout:       sinkTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func loadEvents(c accrualapi.EventsConfig, secretsDir string, partners map[string]accrualapi.PartnerConfig,
	fail func(field, format string, args ...any)) *LoadedEvents {
	out := &LoadedEvents{Source: c.Source, Retention: defaultRetention}
	if c.Source == "" {
		fail("events.source", "is empty: want the program's API path")
	}
	if c.Retention != "" {
		d, err := time.ParseDuration(c.Retention)
		if err != nil || d <= 0 {
			fail("events.retention", "%q is not a positive duration such as 168h", c.Retention)
		}
		out.Retention = d
	}
	for i, r := range c.ExpiryReminders {
		p, err := period.Parse(r)
		if err != nil || p.IsZero() {
			fail(fmt.Sprintf("events.expiryReminders[%d]", i), "%q is not an ISO 8601 duration such as P7D", r)
			continue
		}
		out.Reminders = append(out.Reminders, p)
	}
	client := sinkClient()
	seen := map[string]bool{}
	for i, sc := range c.Sinks {
		field := fmt.Sprintf("events.sinks[%d]", i)
		if !sinkName.MatchString(sc.Name) || len(sc.Name) > 200 {
			fail(field+".name", "%q is not a sink name (lower-case letters, digits, '-' and '.')", sc.Name)
		}
		if seen[sc.Name] {
			fail(field+".name", "%q is listed twice", sc.Name)
		}
		seen[sc.Name] = true
		if _, ok := partners[sc.Partner]; sc.Partner != "" && !ok {
			fail(field+".partner", "%q is not a partner of the program", sc.Partner)
		}
		for j, typ := range sc.Types {
			if !slices.Contains(accrualapi.EventTypes, typ) {
				fail(fmt.Sprintf("%s.types[%d]", field, j), "%q is not an event type; see the README's list", typ)
			}
		}
		ls := LoadedSink{Filter: ledger.SinkFilter{Name: sc.Name, Partner: sc.Partner, Types: sc.Types}, DeadAfter: defaultDeadAfter}
		if sc.DeadAfter != "" {
			d, err := time.ParseDuration(sc.DeadAfter)
			if err != nil || d <= 0 {
				fail(field+".deadAfter", "%q is not a positive duration such as 24h", sc.DeadAfter)
			}
			ls.DeadAfter = d
		}
		if sc.NATS != nil {
			if sc.URL != "" || len(sc.SigningSecretFiles) > 0 {
				fail(field, "a NATS sink has no url or signingSecretFiles")
			}
			ls.Sink = natsSink(field+".nats", *sc.NATS, secretsDir, fail)
			out.Sinks = append(out.Sinks, ls)
			continue
		}
		ls.Sink = httpSink(field, sc, secretsDir, client, fail)
		out.Sinks = append(out.Sinks, ls)
	}
	return out
}

var (
	natsSubject = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
	natsStream  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// natsSink checks a NATS destination and builds its sink.
func natsSink(field string, c accrualapi.NATSSinkConfig, secretsDir string, fail func(field, format string, args ...any)) *events.NATSSink {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
		fail(field+".url", "%q is not a nats:// or tls:// URL", c.URL)
	}
	if !natsSubject.MatchString(c.Subject) {
		fail(field+".subject", "%q is not a NATS subject of letters, digits, '-' and '_' separated by dots (no wildcards)", c.Subject)
	}
	if !natsStream.MatchString(c.Stream) {
		fail(field+".stream", "%q is not a JetStream stream name (letters, digits, '-' and '_')", c.Stream)
	}
	sink := &events.NATSSink{URL: c.URL, Subject: c.Subject, Stream: c.Stream,
		Options: []nats.Option{nats.Timeout(sinkTimeout), nats.MaxReconnects(-1)}}
	if c.CredentialsFile != "" {
		if !fileName.MatchString(c.CredentialsFile) {
			fail(field+".credentialsFile", "%q is not a file name in the secrets directory", c.CredentialsFile)
		} else if _, err := os.Stat(filepath.Join(secretsDir, c.CredentialsFile)); err != nil {
			fail(field+".credentialsFile", "reading secret %s: %v", c.CredentialsFile, err)
		} else {
			sink.Options = append(sink.Options, nats.UserCredentials(filepath.Join(secretsDir, c.CredentialsFile)))
		}
	}
	return sink
}

// httpSink checks a webhook sink and builds it, with its signer.
func httpSink(field string, sc accrualapi.SinkConfig, secretsDir string, client *http.Client, fail func(field, format string, args ...any)) *events.HTTPSink {
	u, err := url.Parse(sc.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fail(field+".url", "%q is not an http or https URL", sc.URL)
	}
	var secrets []string
	for j, name := range sc.SigningSecretFiles {
		f := fmt.Sprintf("%s.signingSecretFiles[%d]", field, j)
		if !fileName.MatchString(name) {
			fail(f, "%q is not a file name in the secrets directory", name)
			continue
		}
		b, err := os.ReadFile(filepath.Join(secretsDir, name))
		if err != nil {
			fail(f, "reading secret %s: %v", name, err)
			continue
		}
		secret := strings.TrimSpace(string(b))
		if _, err := events.ParseSecret(secret); err != nil {
			// The error says what is wrong with it, never the secret.
			fail(f, "secret %s: %v", name, err)
			continue
		}
		secrets = append(secrets, secret)
	}
	sink := &events.HTTPSink{URL: sc.URL, Client: client}
	if len(sc.SigningSecretFiles) == 0 {
		fail(field+".signingSecretFiles", "is empty: every request is signed, name at least one secret")
	} else if len(secrets) == len(sc.SigningSecretFiles) {
		if sink.Signer, err = events.NewSigner(secrets...); err != nil {
			fail(field+".signingSecretFiles", "%v", err)
		}
	}
	return sink
}
