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

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Where a program's events go (issue 18): sinks declared by the platform team on
// the LoyaltyProgram, which receive every event, and by each partner on its
// Partner, which receive the events that concern that partner.

// EventType is the type of a CloudEvent treue sends; the README lists each with
// its data.
// +kubebuilder:validation:Enum=dev.treue.member.enrolled;dev.treue.points.earned;dev.treue.points.redeemed;dev.treue.points.returned;dev.treue.points.adjusted;dev.treue.points.expired;dev.treue.points.expiring;dev.treue.tier.changed;dev.treue.birthday.bonus.granted;dev.treue.membership.paid;dev.treue.membership.lapsed;dev.treue.membership.expired;dev.treue.referral.code.issued;dev.treue.referral.code.used;dev.treue.commission.accrued;dev.treue.commission.confirmed;dev.treue.commission.cancelled;dev.treue.commission.clawedback;dev.treue.settlement.completed;dev.treue.settlement.failed
type EventType string

// EventSink is one destination of events: a Service of the sink's namespace or
// an http(s) URI, as Knative's Destination, with the Secret its requests are
// signed with (Standard Webhooks); or a NATS JetStream subject.
// +kubebuilder:validation:XValidation:rule="(has(self.ref) ? 1 : 0) + (has(self.uri) ? 1 : 0) + (has(self.nats) ? 1 : 0) == 1",message="a sink names exactly one of ref (a Service in this namespace), uri (an http or https URL) and nats (a JetStream subject)"
// +kubebuilder:validation:XValidation:rule="has(self.nats) || has(self.signingSecretRef)",message="a webhook sink names its signingSecretRef: every request is signed"
type EventSink struct {
	// name identifies the sink within its object. Its deliveries are kept under
	// it: renaming a sink starts it afresh.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="must be lower-case letters, digits and '-', such as \"shop\""
	Name string `json:"name"`

	// ref is a Service in this namespace that receives the events, at
	// http://<name>.<namespace>.svc:<port><path>.
	// +optional
	Ref *SinkServiceReference `json:"ref,omitempty"`

	// uri is an absolute http or https URL that receives the events.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",message="must be an absolute http or https URL such as \"https://shop.example.de/hooks/treue\""
	URI string `json:"uri,omitempty"`

	// types the sink receives; all when empty.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	Types []EventType `json:"types,omitempty"`

	// signingSecretRef names a Secret in this namespace whose key "secret" holds
	// the signing secret ("whsec_" and at least 24 random bytes in base64), and
	// during a rotation whose key "previousSecret" holds the old one: each
	// request is then signed with both, so that receivers accept it before and
	// after they switch.
	// +optional
	SigningSecretRef *LocalObjectReference `json:"signingSecretRef,omitempty"`

	// nats publishes the events to NATS JetStream instead, for a platform
	// team's warehouse: each as a structured CloudEvent on
	// "<subject>.<type without dev.treue.>", its id as Nats-Msg-Id.
	// +optional
	NATS *NATSDestination `json:"nats,omitempty"`

	// deadAfter parks an event that could not be delivered for this long after
	// its first failed attempt; it is kept, counted and can be replayed. 24h when
	// empty.
	// +optional
	DeadAfter *metav1.Duration `json:"deadAfter,omitempty"`
}

// SinkServiceReference names a Service that receives events.
type SinkServiceReference struct {
	// name of the Service.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="must be a Service name: lower-case letters, digits and '-', starting with a letter"
	Name string `json:"name"`

	// port of the Service; 80 when empty.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// path requests are posted to; "/" when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.matches('^/[-A-Za-z0-9._~/%]*$')",message="must be an absolute path such as \"/hooks/treue\""
	Path string `json:"path,omitempty"`
}

// NATSDestination is a NATS JetStream subject.
type NATSDestination struct {
	// url of the NATS server.
	// +required
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self.matches('^(nats|tls)://[^/?#]+$')",message="must be a nats:// or tls:// URL such as \"nats://nats.warehouse:4222\""
	URL string `json:"url"`

	// subject the events are published under.
	// +required
	// +kubebuilder:validation:MaxLength=200
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9_-]+([.][A-Za-z0-9_-]+)*$')",message="must be a NATS subject without wildcards, such as \"stadtbonus.events\""
	Subject string `json:"subject"`

	// stream that holds the subject; created, or its subjects set, when the
	// sink first publishes.
	// +required
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9_-]+$')",message="must be a JetStream stream name of letters, digits, '-' and '_'"
	Stream string `json:"stream"`

	// credentialsSecretRef names a Secret in this namespace whose key "creds"
	// holds the NATS credentials (a .creds file) to connect with; none connects
	// without.
	// +optional
	CredentialsSecretRef *LocalObjectReference `json:"credentialsSecretRef,omitempty"`
}

// ProgramEvents are the platform team's sinks.
type ProgramEvents struct {
	// sinks receive every event of the program; none when only the partners'
	// sinks get events.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	Sinks []EventSink `json:"sinks,omitempty"`

	// expiryReminders are how long before a lot expires its member's sinks hear
	// of it (dev.treue.points.expiring), each once per lot: the program's and
	// the sinks of the partner that issued the lot. ISO 8601 durations, such as
	// P30D and P7D.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=4
	// +kubebuilder:validation:XValidation:rule="self.all(d, !d.matches('^P(0+Y)?(0+M)?(0+W)?(0+D)?(T(0+H)?(0+M)?(0+S)?)?$'))",message="each reminder must be longer than zero, such as \"P7D\""
	ExpiryReminders []Duration `json:"expiryReminders,omitempty"`

	// retention is how long delivered events are kept in the ledger's outbox;
	// 168h (a week) when empty. Pending and dead events stay until delivered or
	// replayed.
	// +optional
	Retention *metav1.Duration `json:"retention,omitempty"`
}

// PartnerEvents are a partner's sinks.
type PartnerEvents struct {
	// sinks receive, from every program that accepted the partner, the events
	// that concern it: purchases, returns, redemptions and membership fees at its
	// own tills, the expiry of points it issued, the codes and commissions of
	// its referral agreements, and every member's enrolment, birthday bonus and
	// lapsed membership. Never another partner's purchase.
	// +required
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	Sinks []EventSink `json:"sinks"`
}

// EventSinkStatus is where one sink's deliveries stand, as the program's
// service last reported.
type EventSinkStatus struct {
	// name of the sink.
	// +required
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// delivered counts every event delivered to the sink.
	// +optional
	Delivered int64 `json:"delivered"`

	// pending counts the events waiting for delivery.
	// +optional
	Pending int64 `json:"pending"`

	// oldestPendingAge is how long the oldest pending event has waited.
	// +optional
	OldestPendingAge *metav1.Duration `json:"oldestPendingAge,omitempty"`

	// dead counts the events parked after failing longer than deadAfter.
	// +optional
	Dead int64 `json:"dead"`

	// lastError is the receiver's latest refusal or the network's error.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	LastError string `json:"lastError,omitempty"`
}

// AnnotationReplayEvents on a LoyaltyProgram or a Partner asks the operator to
// send every parked dead event of its sinks again, once per new value:
//
//	kubectl annotate partner baeckerei-korn --overwrite events.treue.dev/replay-requested-at="$(date -Is)"
//
// status.lastHandledEventsReplay shows the value acted on, and an EventsReplayed
// event how many events went out again.
const AnnotationReplayEvents = "events.treue.dev/replay-requested-at"
