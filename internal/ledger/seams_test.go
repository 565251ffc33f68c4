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

package ledger

import "errors"

// testSeams reach inside a ledger for the tests of the batched path.
type testSeams struct {
	// single runs every write of a batch on its own, so that the batched path
	// can be compared with it.
	single bool
	// hold makes the committers wait for a value before each batch.
	hold chan struct{}
	// broken fails every batched run after its writes, so that each falls back
	// to single writes.
	broken bool
}

func (s testSeams) singleWritesOnly() bool     { return s.single }
func (s testSeams) holdBatches() chan struct{} { return s.hold }

func (s testSeams) afterPlan() error {
	if s.broken {
		return errors.New("a test broke this run")
	}
	return nil
}
