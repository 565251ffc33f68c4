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

// Package settlement computes who owes whom for one cooperation and one period:
// a statement per partner and the transfers that settle it, in integer minor
// units, deterministically. It is pure: no I/O, no clock, no Kubernetes.
//
// The positions. A partner owes the network the issuance price of the points it
// issued (less the points returns took back), and the network owes a partner the
// redemption price of the points it took as payment; the network keeps the
// difference. A referee owes its referrer the commissions of the period (less
// cancels and clawbacks). Each of these is summed exactly over the period and
// rounded once, per partner and line (per pair for commissions); the exact
// remainder of all that rounding is the residual, a line of its own. Amounts a
// partner carried in from earlier periods join its position.
//
// Netting. Multilateral: the network is the central counterparty (the IATA
// clearing-house model) and each partner pays or receives its net position, one
// transfer at most per partner. Bilateral: the obligations of each pair of
// parties (a partner and the network, or two partners by their commissions) are
// netted, one transfer at most per pair. Both modes give every partner the same
// net position.
//
// Minimum transfer. A partner whose net position is smaller than the minimum
// transfer pays or receives nothing this period: its position is carried to the
// next one, held by the network. In bilateral mode, that partner's obligations to
// other partners are then taken over by the network, so that those partners are
// paid all the same.
package settlement
