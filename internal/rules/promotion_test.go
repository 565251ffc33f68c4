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

package rules

import (
	"errors"
	"testing"
	"time"
)

func utcs(y int, m time.Month, d, hh, mm, ss int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, 0, time.UTC)
}

// Hand-computed: Berlin is UTC+1 in winter and UTC+2 from 02:00 on 29 March
// 2026 to 03:00 on 25 October 2026.
func TestPromotionWindows(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	saturdayMornings := []RecurringWindowConfig{{Days: []string{"Saturday"}, From: "08:00", Until: "12:00"}}
	fridayNights := []RecurringWindowConfig{{Days: []string{"friday"}, From: "22:00", Until: "02:00"}}
	sundayAtTwo := []RecurringWindowConfig{{Days: []string{"Sunday"}, From: "01:30", Until: "02:30"}}
	tests := []struct {
		name    string
		c       PromotionWindowConfig
		at      time.Time
		state   string
		applies bool
	}{
		{"a second before validFrom", PromotionWindowConfig{ValidFrom: "2026-12-05T08:00", ValidUntil: "2026-12-07"},
			utcs(2026, 12, 5, 6, 59, 59), PromotionScheduled, false},
		{"at validFrom (08:00 in Berlin)", PromotionWindowConfig{ValidFrom: "2026-12-05T08:00", ValidUntil: "2026-12-07"},
			utcs(2026, 12, 5, 7, 0, 0), PromotionActive, true},
		{"a second before validUntil", PromotionWindowConfig{ValidFrom: "2026-12-05T08:00", ValidUntil: "2026-12-07"},
			utcs(2026, 12, 6, 22, 59, 59), PromotionActive, true},
		{"at validUntil (midnight in Berlin)", PromotionWindowConfig{ValidFrom: "2026-12-05T08:00", ValidUntil: "2026-12-07"},
			utcs(2026, 12, 6, 23, 0, 0), PromotionEnded, false},
		{"no end", PromotionWindowConfig{ValidFrom: "2026-01-01"}, utcs(2036, 1, 1, 0, 0, 0), PromotionActive, true},
		{"Saturday 07:59:59 CET", PromotionWindowConfig{ValidFrom: "2026-03-01", Recurring: saturdayMornings},
			utcs(2026, 3, 28, 6, 59, 59), PromotionActive, false},
		{"Saturday 08:00 CET", PromotionWindowConfig{ValidFrom: "2026-03-01", Recurring: saturdayMornings},
			utcs(2026, 3, 28, 7, 0, 0), PromotionActive, true},
		{"Saturday 11:59:59 CET", PromotionWindowConfig{ValidFrom: "2026-03-01", Recurring: saturdayMornings},
			utcs(2026, 3, 28, 10, 59, 59), PromotionActive, true},
		{"Saturday 12:00 CET", PromotionWindowConfig{ValidFrom: "2026-03-01", Recurring: saturdayMornings},
			utcs(2026, 3, 28, 11, 0, 0), PromotionActive, false},
		{"Saturday 08:00 CEST, a week later", PromotionWindowConfig{ValidFrom: "2026-03-01", Recurring: saturdayMornings},
			utcs(2026, 4, 4, 6, 0, 0), PromotionActive, true},
		{"Saturday 07:59:59 CEST", PromotionWindowConfig{ValidFrom: "2026-03-01", Recurring: saturdayMornings},
			utcs(2026, 4, 4, 5, 59, 59), PromotionActive, false},
		{"a Sunday at 08:00", PromotionWindowConfig{ValidFrom: "2026-03-01", Recurring: saturdayMornings},
			utcs(2026, 4, 5, 6, 0, 0), PromotionActive, false},
		{"Friday 21:59:59", PromotionWindowConfig{ValidFrom: "2026-03-01", Recurring: fridayNights},
			utcs(2026, 3, 27, 20, 59, 59), PromotionActive, false},
		{"Friday 22:00", PromotionWindowConfig{ValidFrom: "2026-03-01", Recurring: fridayNights},
			utcs(2026, 3, 27, 21, 0, 0), PromotionActive, true},
		{"Saturday 01:59:59, still Friday night", PromotionWindowConfig{ValidFrom: "2026-03-01", Recurring: fridayNights},
			utcs(2026, 3, 28, 0, 59, 59), PromotionActive, true},
		{"Saturday 02:00", PromotionWindowConfig{ValidFrom: "2026-03-01", Recurring: fridayNights},
			utcs(2026, 3, 28, 1, 0, 0), PromotionActive, false},
		{"Friday 01:00 is Thursday night", PromotionWindowConfig{ValidFrom: "2026-03-01", Recurring: fridayNights},
			utcs(2026, 3, 27, 0, 0, 0), PromotionActive, false},
		{"spring forward: 01:59:59 CET", PromotionWindowConfig{ValidFrom: "2026-03-01", Recurring: sundayAtTwo},
			utcs(2026, 3, 29, 0, 59, 59), PromotionActive, true},
		{"spring forward: the next second is 03:00 CEST", PromotionWindowConfig{ValidFrom: "2026-03-01", Recurring: sundayAtTwo},
			utcs(2026, 3, 29, 1, 0, 0), PromotionActive, false},
		{"fall back: 02:15 CEST", PromotionWindowConfig{ValidFrom: "2026-03-01", Recurring: []RecurringWindowConfig{
			{Days: []string{"Sunday"}, From: "02:00", Until: "02:30"}}}, utcs(2026, 10, 25, 0, 15, 0), PromotionActive, true},
		{"fall back: 02:15 CET, the hour again", PromotionWindowConfig{ValidFrom: "2026-03-01", Recurring: []RecurringWindowConfig{
			{Days: []string{"Sunday"}, From: "02:00", Until: "02:30"}}}, utcs(2026, 10, 25, 1, 15, 0), PromotionActive, true},
		{"fall back: 02:30 CET", PromotionWindowConfig{ValidFrom: "2026-03-01", Recurring: []RecurringWindowConfig{
			{Days: []string{"Sunday"}, From: "02:00", Until: "02:30"}}}, utcs(2026, 10, 25, 1, 30, 0), PromotionActive, false},
		{"recurring windows outside the span", PromotionWindowConfig{ValidFrom: "2026-03-01", ValidUntil: "2026-03-28", Recurring: saturdayMornings},
			utcs(2026, 3, 28, 7, 0, 0), PromotionEnded, false},
	}
	for _, tt := range tests {
		w, err := CompilePromotionWindow(tt.c, berlin)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got, applies := w.State(tt.at), w.Applies(tt.at); got != tt.state || applies != tt.applies {
			t.Errorf("%s: %s, applies %v; want %s, %v", tt.name, got, applies, tt.state, tt.applies)
		}
	}
}

func TestPromotionWindowErrorsNameTheField(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for c, field := range map[*PromotionWindowConfig]string{
		{ValidFrom: "5.12.2026"}:                            "validFrom",
		{ValidFrom: "2026-12-05", ValidUntil: "2026-12-05"}: "validUntil",
		{ValidFrom: "2026-12-05", ValidUntil: "2026-12-04"}: "validUntil",
		{ValidFrom: "2026-12-05", Recurring: []RecurringWindowConfig{{Days: []string{"Samstag"}, From: "08:00", Until: "12:00"}}}:  "recurring[0].days",
		{ValidFrom: "2026-12-05", Recurring: []RecurringWindowConfig{{From: "08:00", Until: "12:00"}}}:                             "recurring[0].days",
		{ValidFrom: "2026-12-05", Recurring: []RecurringWindowConfig{{Days: []string{"Saturday"}, From: "8 am", Until: "12:00"}}}:  "recurring[0].from",
		{ValidFrom: "2026-12-05", Recurring: []RecurringWindowConfig{{Days: []string{"Saturday"}, From: "08:00", Until: "25:00"}}}: "recurring[0].until",
	} {
		_, err := CompilePromotionWindow(*c, berlin)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%+v: %v, want an error of %s", *c, err, field)
		}
	}
}
