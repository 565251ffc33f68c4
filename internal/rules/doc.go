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

// Package rules evaluates a loyalty program's rules as pure functions: points for a
// purchase, bonuses, a member's tier at a time, each lot's pending and expiry dates,
// and referral discounts and commissions. It does no I/O and must never import
// Kubernetes, HTTP or database packages; its input is the Config the operator
// renders from a LoyaltyProgram, and time is always passed in.
package rules
