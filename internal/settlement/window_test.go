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

package settlement

import (
	"testing"
	"time"
)

func TestWindows(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		length, now, id, start, end string
	}{
		// Monday 23 November 2026, 03:00: week 47 (16–22 November) has closed.
		{Weekly, "2026-11-23 03:00", "2026-W47", "2026-11-16 00:00", "2026-11-23 00:00"},
		// Sunday night is still inside week 48, so week 47 is the last closed.
		{Weekly, "2026-11-29 23:59", "2026-W47", "2026-11-16 00:00", "2026-11-23 00:00"},
		// Week 1 of 2027 starts on Monday 4 January; the last week of 2026 is 53.
		{Weekly, "2027-01-05 00:00", "2026-W53", "2026-12-28 00:00", "2027-01-04 00:00"},
		// The week of the switch to summer time is 167 hours long.
		{Weekly, "2026-04-01 12:00", "2026-W13", "2026-03-23 00:00", "2026-03-30 00:00"},
		{Monthly, "2026-12-01 00:00", "2026-11", "2026-11-01 00:00", "2026-12-01 00:00"},
		{Monthly, "2027-01-15 08:00", "2026-12", "2026-12-01 00:00", "2027-01-01 00:00"},
	}
	for _, tt := range tests {
		w, err := LastClosed(tt.length, berlin, at(tt.now).UTC())
		if err != nil {
			t.Fatal(err)
		}
		if w.ID != tt.id || !w.Start.Equal(at(tt.start)) || !w.End.Equal(at(tt.end)) {
			t.Errorf("%s at %s: %s [%s, %s), want %s [%s, %s)", tt.length, tt.now, w.ID, w.Start, w.End, tt.id, tt.start, tt.end)
		}
		parsed, err := ParseWindow(tt.length, tt.id, berlin)
		if err != nil || parsed.ID != w.ID || !parsed.Start.Equal(w.Start) || !parsed.End.Equal(w.End) {
			t.Errorf("ParseWindow(%s): %+v, %v; want %+v", tt.id, parsed, err, w)
		}
	}
	if w, _ := ParseWindow(Weekly, "2026-W13", berlin); w.End.Sub(w.Start) != 167*time.Hour {
		t.Errorf("week 13 of 2026 lasts %s, want 167h", w.End.Sub(w.Start))
	}
	for _, bad := range []struct{ length, id string }{
		{Weekly, "2026-W54"}, {Weekly, "2025-W53"}, {Weekly, "2026-47"}, {Weekly, "2026-W4"},
		{Monthly, "2026-13"}, {Monthly, "2026-1"}, {Monthly, "2026-W47"}, {"Daily", "2026-11-23"},
	} {
		if _, err := ParseWindow(bad.length, bad.id, berlin); err == nil {
			t.Errorf("ParseWindow(%s, %s) accepted it", bad.length, bad.id)
		}
	}
}
