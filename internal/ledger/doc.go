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

// Package ledger is the store of record of one program's points: lots with their
// own pending and expiry dates, double-entry journal entries, idempotent writes
// under client keys, on SQLite (embedded) or PostgreSQL. It asks internal/rules for
// every number, keeps its idempotency records in the format internal/accrualapi
// defines, and must never import Kubernetes packages or serve or call HTTP.
package ledger
