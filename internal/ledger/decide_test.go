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
	"errors"
	"slices"
	"testing"
)

func TestDecideRedeemTakesLotsInOrder(t *testing.T) {
	for _, tc := range []struct {
		name      string
		points    int64
		holds     []int64
		owed      int64
		wantTakes []int64
		wantErr   error
	}{
		{"from the first lot", 30, []int64{50, 20}, 0, []int64{30, 0}, nil},
		{"across lots", 60, []int64{50, 20}, 0, []int64{50, 10}, nil},
		{"everything", 70, []int64{50, 20}, 0, []int64{50, 20}, nil},
		{"one too many", 71, []int64{50, 20}, 0, nil, ErrInsufficientPoints},
		{"debt counts first", 60, []int64{50, 20}, -15, nil, ErrInsufficientPoints},
		{"debt leaves enough", 55, []int64{50, 20}, -15, []int64{50, 5}, nil},
		{"no lots", 1, nil, 0, nil, ErrInsufficientPoints},
	} {
		d, err := decideRedeem(RedeemRequest{Member: "anna", Partner: "p/cafe", Points: tc.points}, 7, tc.holds, tc.owed)
		if !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if !slices.Equal(d.takes, tc.wantTakes) || d.result.Points != tc.points || d.result.Value != 7 {
			t.Errorf("%s: takes %v, points %d, value %d; want %v, %d, 7", tc.name, d.takes, d.result.Points, d.result.Value, tc.wantTakes, tc.points)
		}
		var sum int64
		for _, p := range d.postings {
			sum += p.points
		}
		if sum != 0 || d.postings[0].points != -tc.points {
			t.Errorf("%s: postings %v do not move %d points out of the member's account", tc.name, d.postings, tc.points)
		}
	}
}
