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

// Package events is how treue sends out what happens in a network (issue 18):
// events as CloudEvents 1.0, posted to webhooks signed per the Standard Webhooks
// specification (so that a receiver verifies them with any Standard Webhooks
// library) or published to NATS JetStream, with the back-off between attempts.
// What an event says, and when it is sent, are the ledger's and the service's
// business: this package must never import them, nor Kubernetes.
package events
