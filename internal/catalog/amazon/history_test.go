package amazon_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon"
)

func TestRecordRoundTrip(t *testing.T) {
	for _, r := range []amazon.Record{
		{Action: "promote", From: 3},
		{Action: "rollback", From: 12, Restores: 7},
	} {
		desc := r.Describe("api@7 ami-0abc", "api@5 ami-0def")
		got, ok := amazon.ParseRecord(desc)
		if !ok || got != r {
			t.Errorf("%q: %+v %v, want %+v", desc, got, ok, r)
		}
	}
	// Long labels are cut; the record is at the front and survives.
	r := amazon.Record{Action: "rollback", From: 9, Restores: 4}
	desc := r.Describe(strings.Repeat("f", 128)+"@"+strings.Repeat("9", 200)+" ami-0abc", "x")
	if n := len([]rune(desc)); n > amazon.MaxDescription {
		t.Errorf("description of %d characters", n)
	}
	if got, ok := amazon.ParseRecord(desc); !ok || got != r {
		t.Errorf("cut description: %+v %v", got, ok)
	}
	// What pipbake wrote before records had their prefix.
	if got, ok := amazon.ParseRecord("pipbake rollback api@2 ami-0abc (was api@3 ami-0def, version 3)"); !ok || got != (amazon.Record{Action: "rollback", From: 3}) {
		t.Errorf("legacy: %+v %v", got, ok)
	}
	for _, d := range []string{"", "made by hand", "pipbake promote, from version 0: x", "pipbake deploy, from version 2: x", "pipbake promote, from version 99999999999999999999: x"} {
		if _, ok := amazon.ParseRecord(d); ok {
			t.Errorf("%q parsed as a record", d)
		}
	}
}

// history builds template versions from (version, image, description).
func history(vs ...string) []amazon.TemplateVersion {
	var out []amazon.TemplateVersion
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i+2 < len(vs); i += 3 {
		var n int64
		fmt.Sscan(vs[i], &n)
		out = append(out, amazon.TemplateVersion{Version: n, ImageID: vs[i+1], Description: vs[i+2], Created: t0.Add(time.Duration(n) * time.Hour)})
	}
	return out
}

func images(es []amazon.Entry) string {
	var s []string
	for _, e := range es {
		s = append(s, fmt.Sprintf("%d:%s", e.Version, e.Image))
	}
	return strings.Join(s, " ")
}

func TestHistoryWalksBack(t *testing.T) {
	promote := func(from int64) string { return amazon.Record{Action: "promote", From: from}.Describe("x", "y") }
	rollback := func(from, restores int64) string {
		return amazon.Record{Action: "rollback", From: from, Restores: restores}.Describe("x", "y")
	}
	// 1 (by hand) -> 2 -> 4 -> 3, rollback to 4, rollback to 2; a version
	// 6 someone else made in between.
	h := amazon.NewHistory(history(
		"1", "a1", "terraform",
		"2", "a2", promote(1),
		"3", "a4", promote(2),
		"4", "a3", promote(3),
		"5", "a4", rollback(4, 3),
		"6", "a9", "made by hand",
		"7", "a2", rollback(5, 2),
	))
	for _, tc := range []struct {
		v           int64
		before, ran string
	}{
		{4, "3:a4 2:a2 1:a1", "4:a3 3:a4 2:a2 1:a1"},
		{5, "2:a2 1:a1", "5:a4 4:a3 3:a4 2:a2 1:a1"},
		{7, "1:a1", "7:a2 5:a4 4:a3 3:a4 2:a2 1:a1"},
		{6, "", "6:a9"},
		{1, "", "1:a1"},
		{99, "", ""},
	} {
		if got := images(h.Before(tc.v)); got != tc.before {
			t.Errorf("Before(%d) = %q, want %q", tc.v, got, tc.before)
		}
		if got := images(h.Ran(tc.v)); got != tc.ran {
			t.Errorf("Ran(%d) = %q, want %q", tc.v, got, tc.ran)
		}
	}
}

// FuzzHistory: whatever the descriptions say (someone can write any), a
// walk ends, and goes strictly back.
func FuzzHistory(f *testing.F) {
	f.Add("pipbake promote, from version 1: x", "pipbake rollback, from version 2, restores version 1: x", "pipbake promote, from version 3: x", int64(3))
	f.Add("pipbake promote, from version 2: x", "pipbake rollback, from version 3, restores version 3: x", "pipbake promote, from version 1: x", int64(2))
	f.Add("pipbake rollback x (was y, version 3)", "pipbake promote, from version 9: x", "", int64(1))
	f.Fuzz(func(t *testing.T, d1, d2, d3 string, v int64) {
		h := amazon.NewHistory(history("1", "a1", d1, "2", "a2", d2, "3", "a3", d3))
		for _, list := range [][]amazon.Entry{h.Before(v), h.Ran(v)} {
			last := v + 1
			for _, e := range list {
				if e.Version >= last {
					t.Fatalf("walk from %d does not go back: %s", v, images(list))
				}
				last = e.Version
			}
		}
	})
}

// FuzzParseRecord: no description crashes the parser; a record it reads
// names positive versions and survives being written again.
func FuzzParseRecord(f *testing.F) {
	f.Add("pipbake promote, from version 3: api@7 ami-0abc (was api@5 ami-0def)")
	f.Add("pipbake rollback, from version 4, restores version 3: a (was b)")
	f.Add("pipbake rollback api@2 ami-0abc (was api@3 ami-0def, version 3)")
	f.Add("pipbake promote, from version 000000000000000001:")
	f.Fuzz(func(t *testing.T, desc string) {
		r, ok := amazon.ParseRecord(desc)
		if !ok {
			return
		}
		if r.From <= 0 || r.Restores < 0 || (r.Action != "promote" && r.Action != "rollback") {
			t.Fatalf("%q: %+v", desc, r)
		}
		if again, ok := amazon.ParseRecord(r.Describe("to", "was")); !ok || again != r {
			t.Fatalf("%q: %+v written again reads %+v %v", desc, r, again, ok)
		}
	})
}
