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

package controllers

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/events"
)

// Events (issue 18): the program's and its partners' sinks rendered into the
// service's configuration, their signing secrets into its secrets, and their
// figures, read back from the service, into status.

// Keys of a sink's signing Secret.
const (
	signingSecretKey         = "secret"
	previousSigningSecretKey = "previousSecret"
)

// signingKeys are the secrets read from one sink's Secret: a webhook's
// signing secrets (current empty when missing), or a NATS sink's credentials;
// problem says what is wrong with it.
type signingKeys struct {
	current, previous string
	creds             string
	problem           string
}

// Key of a NATS sink's credentials Secret.
const natsCredentialsKey = "creds"

// secretRefOf is the Secret a sink reads: a webhook's signing Secret, a NATS
// sink's credentials; nil for none.
func secretRefOf(s loyaltyv1alpha1.EventSink) *loyaltyv1alpha1.LocalObjectReference {
	if s.NATS != nil {
		return s.NATS.CredentialsSecretRef
	}
	return s.SigningSecretRef
}

// natsCredentialsOf checks a NATS credentials Secret's data (nil when it does
// not exist).
func natsCredentialsOf(namespace, name string, data map[string][]byte) signingKeys {
	if len(data[natsCredentialsKey]) == 0 {
		return signingKeys{problem: fmt.Sprintf("Secret %s/%s with key %q holding the NATS credentials does not exist or is empty; create it",
			namespace, name, natsCredentialsKey)}
	}
	return signingKeys{creds: string(data[natsCredentialsKey])}
}

// signingKeysOf checks a signing Secret's data (nil when it does not exist).
func signingKeysOf(namespace, name string, data map[string][]byte) signingKeys {
	if data == nil {
		return signingKeys{problem: fmt.Sprintf("Secret %s/%s does not exist; create it with key %q holding a Standard Webhooks secret "+
			"(\"whsec_\" and 24 to 64 random bytes in base64)", namespace, name, signingSecretKey)}
	}
	k := signingKeys{current: strings.TrimSpace(string(data[signingSecretKey])), previous: strings.TrimSpace(string(data[previousSigningSecretKey]))}
	if _, err := events.ParseSecret(k.current); err != nil {
		return signingKeys{problem: fmt.Sprintf("Secret %s/%s key %q: %v", namespace, name, signingSecretKey, err)}
	}
	if k.previous != "" {
		if _, err := events.ParseSecret(k.previous); err != nil {
			return signingKeys{problem: fmt.Sprintf("Secret %s/%s key %q: %v", namespace, name, previousSigningSecretKey, err)}
		}
	}
	return k
}

// declaredSink is one sink with where it was declared.
type declaredSink struct {
	sink loyaltyv1alpha1.EventSink
	// namespace is the sink's (the program's or the partner's); partner the
	// partner id, empty for a program sink.
	namespace, partner string
	// name is the sink's name in the service: unique in the program.
	name string
}

// programSinkName and partnerSinkName name sinks in the service. A sink's own
// name has no dots, so the two never meet: a partner's has at least three
// dot-separated parts, a program's two.
func programSinkName(sink string) string { return "program." + sink }

func partnerSinkName(namespace, partner, sink string) string {
	return namespace + "." + partner + "." + sink
}

// declaredSinks are the program's sinks and those of the partners it accepted,
// in a stable order.
func declaredSinks(program *loyaltyv1alpha1.LoyaltyProgram, accepted []loyaltyv1alpha1.Partner) []declaredSink {
	var out []declaredSink
	if e := program.Spec.Events; e != nil {
		for _, s := range e.Sinks {
			out = append(out, declaredSink{sink: s, namespace: program.Namespace, name: programSinkName(s.Name)})
		}
	}
	for _, p := range accepted {
		if p.Spec.Events == nil {
			continue
		}
		for _, s := range p.Spec.Events.Sinks {
			out = append(out, declaredSink{sink: s, namespace: p.Namespace, partner: loyaltyv1alpha1.ObjectKey(p.Namespace, p.Name),
				name: partnerSinkName(p.Namespace, p.Name, s.Name)})
		}
	}
	slices.SortFunc(out, func(a, b declaredSink) int { return strings.Compare(a.name, b.name) })
	return out
}

// sinkURL is where a sink's requests go.
func sinkURL(s loyaltyv1alpha1.EventSink, namespace string) string {
	if s.Ref == nil {
		return s.URI
	}
	port := s.Ref.Port
	if port == 0 {
		port = 80
	}
	path := s.Ref.Path
	if path == "" {
		path = "/"
	}
	return fmt.Sprintf("http://%s.%s.svc:%d%s", s.Ref.Name, namespace, port, path)
}

// programSource is the CloudEvents source of a program's events: its API path.
func programSource(program *loyaltyv1alpha1.LoyaltyProgram) string {
	return fmt.Sprintf("/apis/%s/namespaces/%s/loyaltyprograms/%s", loyaltyv1alpha1.GroupVersion.String(), program.Namespace, program.Name)
}

// renderEvents renders the sinks whose signing Secret is good (keys, by
// "namespace/name") into the service's events configuration, with the files
// of their secrets; nil when no sink can run. problems are the sinks left out,
// by service name, with what to do.
func renderEvents(program *loyaltyv1alpha1.LoyaltyProgram, sinks []declaredSink, keys map[string]signingKeys) (
	*accrualapi.EventsConfig, map[string][]byte, map[string]string) {
	files, problems := map[string][]byte{}, map[string]string{}
	c := &accrualapi.EventsConfig{Source: programSource(program)}
	if e := program.Spec.Events; e != nil {
		if e.Retention != nil {
			c.Retention = e.Retention.Duration.String()
		}
		for _, r := range e.ExpiryReminders {
			c.ExpiryReminders = append(c.ExpiryReminders, string(r))
		}
	}
	for _, d := range sinks {
		var k signingKeys
		if ref := secretRefOf(d.sink); ref != nil {
			k = keys[loyaltyv1alpha1.ObjectKey(d.namespace, ref.Name)]
		}
		if k.problem != "" || (d.sink.NATS == nil && k.current == "") {
			problems[d.name] = k.problem
			continue
		}
		sc := accrualapi.SinkConfig{Name: d.name, Partner: d.partner}
		for _, t := range d.sink.Types {
			sc.Types = append(sc.Types, string(t))
		}
		if d.sink.DeadAfter != nil {
			sc.DeadAfter = d.sink.DeadAfter.Duration.String()
		}
		if n := d.sink.NATS; n != nil {
			sc.NATS = &accrualapi.NATSSinkConfig{URL: n.URL, Subject: n.Subject, Stream: n.Stream}
			if k.creds != "" {
				sc.NATS.CredentialsFile = "sink-" + d.name + ".creds"
				files[sc.NATS.CredentialsFile] = []byte(k.creds)
			}
			c.Sinks = append(c.Sinks, sc)
			continue
		}
		sc.URL = sinkURL(d.sink, d.namespace)
		current := "sink-" + d.name + ".whsec"
		files[current] = []byte(k.current)
		sc.SigningSecretFiles = []string{current}
		if k.previous != "" {
			previous := "sink-" + d.name + ".previous.whsec"
			files[previous] = []byte(k.previous)
			sc.SigningSecretFiles = append(sc.SigningSecretFiles, previous)
		}
		c.Sinks = append(c.Sinks, sc)
	}
	if len(c.Sinks) == 0 {
		return nil, nil, problems
	}
	return c, files, problems
}

// sinkFigures are a set of sinks' statuses and their EventsDelivering
// condition: problems are the sinks that cannot run (by service name);
// reported is the service's answer, nil when it could not be asked. The
// statuses carry each sink's own name (without its owner's prefix, own).
func sinkFigures(sinks []declaredSink, problems map[string]string, reported *accrualapi.SinksStatus, now time.Time,
	generation int64) ([]loyaltyv1alpha1.EventSinkStatus, metav1.Condition) {
	cond := metav1.Condition{Type: loyaltyv1alpha1.ConditionEventsDelivering, Status: metav1.ConditionTrue,
		Reason: loyaltyv1alpha1.ReasonDelivering, ObservedGeneration: generation}
	var statuses []loyaltyv1alpha1.EventSinkStatus
	byName := map[string]accrualapi.SinkStatus{}
	if reported != nil {
		for _, s := range reported.Sinks {
			byName[s.Name] = s
		}
	}
	var missing, failing []string
	var pending int64
	for _, d := range sinks {
		if p, bad := problems[d.name]; bad {
			missing = append(missing, fmt.Sprintf("sink %s: %s", d.sink.Name, p))
			continue
		}
		s, ok := byName[d.name]
		if !ok {
			continue
		}
		st := loyaltyv1alpha1.EventSinkStatus{Name: d.sink.Name, Delivered: s.Delivered, Pending: s.Pending, Dead: s.Dead,
			LastError: truncateMessage(s.LastError, 1024)}
		if s.OldestPending != nil {
			st.OldestPendingAge = &metav1.Duration{Duration: max(0, now.Sub(*s.OldestPending)).Truncate(time.Second)}
		}
		statuses = append(statuses, st)
		pending += s.Pending
		deadAfter, _ := time.ParseDuration(s.DeadAfter)
		switch {
		case s.Dead > 0:
			failing = append(failing, fmt.Sprintf("sink %s has %d dead events (last error: %s); fix the receiver, then replay them: "+
				"set the annotation %s on this object to a new value (kubectl annotate --overwrite ... %s=\"$(date -Is)\"), "+
				"or POST /v1/events/sinks/%s/replay as the program's admin", d.sink.Name, s.Dead, s.LastError,
				loyaltyv1alpha1.AnnotationReplayEvents, loyaltyv1alpha1.AnnotationReplayEvents, d.name))
		case s.FailingSince != nil && deadAfter > 0 && now.Sub(*s.FailingSince) >= deadAfter:
			failing = append(failing, fmt.Sprintf("sink %s has failed since %s (last error: %s); check that its receiver is up "+
				"and takes the events", d.sink.Name, s.FailingSince.UTC().Format(time.RFC3339), s.LastError))
		}
	}
	switch {
	case len(missing) > 0:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, loyaltyv1alpha1.ReasonSigningSecretMissing, strings.Join(missing, "; ")
	case len(failing) > 0:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, loyaltyv1alpha1.ReasonSinkFailing, strings.Join(failing, "; ")
	case reported == nil:
		cond.Status, cond.Reason = metav1.ConditionUnknown, loyaltyv1alpha1.ReasonEventsUnknown
		cond.Message = "The program's service has not reported on its sinks yet; it does once it is available"
	default:
		cond.Message = fmt.Sprintf("%d sinks take their events; %d pending", len(statuses), pending)
	}
	cond.Message = truncateMessage(cond.Message, 32768)
	return statuses, cond
}

func truncateMessage(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// setEventsCondition sets or, without sinks, removes EventsDelivering.
func setEventsCondition(conditions *[]metav1.Condition, sinks []declaredSink, cond metav1.Condition) {
	if len(sinks) == 0 {
		meta.RemoveStatusCondition(conditions, loyaltyv1alpha1.ConditionEventsDelivering)
		return
	}
	meta.SetStatusCondition(conditions, cond)
}
