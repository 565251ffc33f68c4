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

// Package accrual is the point-accrual HTTP service of one program: partner
// authentication, the /v1 JSON API over the ledger, metrics and health. Its bodies
// and its configuration file are internal/accrualapi's types, mapped to and from
// the ledger's here. It knows its configuration file and secrets directory, never
// the Kubernetes API, and must not import Kubernetes packages.
package accrual
