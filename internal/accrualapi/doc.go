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

// Package accrualapi is the contract between treue's processes and the accrual
// service: the configuration file the operator renders and the service reads,
// the request and response bodies of every /v1 route, the idempotency records a
// ledger keeps of them, and one typed client. It imports only the standard
// library and internal/rules (the rules' own schema) and must never import the
// ledger, Kubernetes or the service itself: both sides of each contract import it.
package accrualapi
