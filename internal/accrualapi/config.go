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

package accrualapi

import "github.com/treue-dev/treue/internal/rules"

// ConfigVersion is the version of the configuration file this build reads.
const ConfigVersion = "accrual.treue.dev/v1"

// Config is the service's configuration file, rendered by the operator from a
// LoyaltyProgram, its accepted Partners and its ReferralDiscounts. Rule changes
// arrive as a new file and a rolling restart: the operator puts the file's hash on
// the pod template, so pods with the old rules drain while new ones start. The
// service never reloads in place.
type Config struct {
	APIVersion string                 `json:"apiVersion"`
	Program    string                 `json:"program"`
	Rules      rules.Config           `json:"rules"`
	Partners   []PartnerConfig        `json:"partners"`
	Referrals  []rules.ReferralConfig `json:"referrals,omitempty"`
	Ledger     LedgerConfig           `json:"ledger"`
	// Events, when set, sends the program's events to its sinks.
	Events *EventsConfig `json:"events,omitempty"`
}

// EventsConfig is where a program's events go: the sinks the program and its
// partners declare.
type EventsConfig struct {
	// Source is every event's CloudEvents source: the program's API path.
	Source string `json:"source"`
	// Retention is how long delivered events are kept (a Go duration); 168h
	// when empty.
	Retention string       `json:"retention,omitempty"`
	Sinks     []SinkConfig `json:"sinks"`
	// ExpiryReminders are ISO 8601 durations before a lot expires (such as
	// "P30D" and "P7D") at which its member's sinks hear of it, once each.
	ExpiryReminders []string `json:"expiryReminders,omitempty"`
}

// SinkConfig is one sink: an HTTP receiver (URL), or a NATS JetStream subject.
type SinkConfig struct {
	// Name is unique among the program's sinks, and stays the same while the
	// sink does: its deliveries are kept under it.
	Name string `json:"name"`
	// Partner is the id of the partner whose sink it is, which gets only the
	// events that concern it; empty for a program sink, which gets every event.
	Partner string `json:"partner,omitempty"`
	// Types it takes; every type when empty.
	Types []string `json:"types,omitempty"`
	// URL of an HTTP receiver.
	URL string `json:"url,omitempty"`
	// SigningSecretFiles name files in the secrets directory with the signing
	// secrets ("whsec_..."); each request is signed with every one, so that a
	// rotation accepts the old and the new.
	SigningSecretFiles []string `json:"signingSecretFiles,omitempty"`
	// NATS publishes to JetStream instead of posting.
	NATS *NATSSinkConfig `json:"nats,omitempty"`
	// DeadAfter parks an event that could not be delivered for this long (a Go
	// duration) after its first failed attempt; 24h when empty.
	DeadAfter string `json:"deadAfter,omitempty"`
}

// NATSSinkConfig is a NATS JetStream destination.
type NATSSinkConfig struct {
	// URL of the NATS server, nats:// or tls://.
	URL string `json:"url"`
	// Subject events are published under, as "<subject>.<type without
	// dev.treue.>", such as "stadtbonus.events.points.earned".
	Subject string `json:"subject"`
	// Stream holds the subjects; it is created, or its subjects set, when the
	// sink first publishes.
	Stream string `json:"stream"`
	// CredentialsFile names a file in the secrets directory with the NATS
	// credentials (a .creds file) the sink connects with; none connects without.
	CredentialsFile string `json:"credentialsFile,omitempty"`
}

// PartnerConfig is one accepted partner.
type PartnerConfig struct {
	// ID is "namespace/name" of the Partner.
	ID string `json:"id"`
	// DefaultCategory applies to purchase lines without one.
	DefaultCategory string `json:"defaultCategory,omitempty"`
	// KeyHashFile names the file in the secrets directory that holds the SHA-256
	// (hex) of the partner's API key. The service never sees the key itself.
	KeyHashFile string `json:"keyHashFile"`
}

// Backend names a ledger store.
type Backend string

// The ledger's stores.
const (
	// SQLite is the embedded store: a file on the pod's volume, one replica.
	SQLite Backend = "sqlite"
	// PostgreSQL is the shared store, for several replicas.
	PostgreSQL Backend = "postgres"
)

// LedgerConfig says where the ledger is.
type LedgerConfig struct {
	Backend Backend `json:"backend"`
	// Path of the SQLite file (Backend sqlite).
	Path string `json:"path,omitempty"`
	// DSNFile names the file in the secrets directory with the PostgreSQL DSN.
	DSNFile string `json:"dsnFile,omitempty"`
}

// Files in the secrets directory.
const (
	// AdminTokenHashFile holds the SHA-256 (hex) of the program's admin token.
	AdminTokenHashFile = "admin-token.sha256"
	// SettlementTokenHashFile holds the SHA-256 (hex) of the settlement token.
	SettlementTokenHashFile = "settlement-token.sha256"
	// LedgerDSNFile holds the PostgreSQL DSN, when the ledger is there.
	LedgerDSNFile = "ledger-dsn"
)

// PartnerKeyHashFile is the secrets file with the SHA-256 of a partner's key.
func PartnerKeyHashFile(namespace, name string) string {
	return "partner-" + namespace + "." + name + ".sha256"
}
