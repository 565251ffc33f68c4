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

import (
	"context"
	"fmt"

	"github.com/treue-dev/treue/internal/accrualapi"
)

// RecordSettlementOutcome writes the events of a settlement run the job
// reports: for a completed run one per partner with its own statement line,
// to that partner's sinks; for a failed run one that every partner of the run
// hears of. Each event's id comes from the settlement (and, for a failure,
// the run) and the partner, so a repeated report writes nothing. It returns
// the events written.
func (l *Ledger) RecordSettlementOutcome(ctx context.Context, o accrualapi.SettlementOutcome) (int, error) {
	if len(l.sinks) == 0 {
		return 0, nil
	}
	base := accrualapi.SettlementEvent{Settlement: o.Settlement, Cooperation: o.Cooperation, Period: o.Period, Start: o.Start, End: o.End,
		Reason: o.Reason, Message: o.Message, Checksum: o.Checksum, Currency: o.Currency}
	now := l.clock.Now()
	var events []outboxEvent
	if o.Completed {
		for _, line := range o.Statements {
			data := base
			data.Statement = &line
			ev, err := dataEvent(fmt.Sprintf("settlement-%s-completed-%s", o.Settlement, line.Partner), accrualapi.EventSettlementCompleted,
				o.Settlement, accrualapi.Audience(line.Partner), now, data)
			if err != nil {
				return 0, err
			}
			events = append(events, ev)
		}
	} else {
		ev, err := dataEvent(fmt.Sprintf("settlement-%s-failed-%s", o.Settlement, o.Run), accrualapi.EventSettlementFailed,
			o.Settlement, accrualapi.Audience(o.Partners...), now, base)
		if err != nil {
			return 0, err
		}
		events = append(events, ev)
	}
	written := 0
	err := l.inTx(ctx, func(t tx) error {
		var err error
		written, err = insertEvents(ctx, t, l.sinks, events)
		return err
	})
	return written, err
}
