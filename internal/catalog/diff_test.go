package catalog

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

func dist(name, version string) receipt.Distribution {
	return receipt.Distribution{Name: name, Version: version}
}

// twoBakes writes the receipts of two bakes: api 1.4.2 -> 1.5.0 with
// Flask 3.1.2 -> 3.1.3, click removed, blinker added; worker removed;
// cron added; the interpreter of api moves from 3.11.7 to 3.11.9.
func twoBakes(t *testing.T) (string, string) {
	a, b := t.TempDir(), t.TempDir()
	writeReceipt(t, a, "api", "1", strings.Repeat("a", 64), dist("api", "1.4.2"), dist("Flask", "3.1.2"), dist("click", "8.1.7"))
	writeReceipt(t, a, "worker", "1", strings.Repeat("b", 64), dist("worker", "2.0"))
	writeReceipt(t, b, "api", "2", strings.Repeat("c", 64), dist("api", "1.5.0"), dist("flask", "3.1.3"), dist("blinker", "1.9"))
	writeReceipt(t, b, "cron", "2", strings.Repeat("d", 64))
	setInterpreter(t, filepath.Join(a, "api.json"), "3.11.7")
	setInterpreter(t, filepath.Join(b, "api.json"), "3.11.9")
	return a, b
}

func setInterpreter(t *testing.T, path, version string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rc receipt.Receipt
	if err := json.Unmarshal(data, &rc); err != nil {
		t.Fatal(err)
	}
	rc.Interpreter = receipt.Interpreter{Implementation: "CPython", Version: version, Platform: "linux-x86_64"}
	if data, err = rc.Marshal(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustFacts(t *testing.T, dir string) Facts {
	t.Helper()
	files, err := ReadReceipts(dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := FactsFromReceipts(dir, "api-node", files)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestDiffOfReceipts(t *testing.T) {
	a, b := twoBakes(t)
	d := DiffFacts(mustFacts(t, a), mustFacts(t, b))
	got := d.String()
	for _, want := range []string{
		a + " -> " + b,
		"  sets:\n    ~ api 1.4.2 -> 1.5.0\n    + cron 2\n    - worker 2.0\n",
		"  distributions:\n    in api:\n      ~ api 1.4.2 -> 1.5.0\n      + blinker 1.9\n      - click 8.1.7\n      ~ flask 3.1.2 -> 3.1.3\n",
		"  locks:\n    ~ api aaaaaaaaaaaa -> cccccccccccc\n",
		"  base:\n    ~ interpreter of api CPython 3.11.7 linux-x86_64 -> CPython 3.11.9 linux-x86_64\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("diff lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "unknown") || d.Same() {
		t.Errorf("both sides have receipts: nothing is unknown:\n%s", got)
	}
	// JSON: the same facts.
	j, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`{"kind":"changed","name":"api","old":"1.4.2","new":"1.5.0"}`, `{"set":"api","kind":"added","name":"blinker","new":"1.9"}`} {
		if !strings.Contains(string(j), want) {
			t.Errorf("json lacks %s:\n%s", want, j)
		}
	}
	// A bake against itself.
	if d := DiffFacts(mustFacts(t, a), mustFacts(t, a)); !d.Same() || !strings.Contains(d.String(), "no known difference") {
		t.Errorf("same: %s", d)
	}
}

func TestDiffOfTagsAndCheckedReceipts(t *testing.T) {
	a, b := twoBakes(t)
	fa, fb := mustFacts(t, a), mustFacts(t, b)
	ta := FactsFromTags("api-node@1 (ami-1)", fa.Release)
	tb := FactsFromTags("api-node@2 (ami-2)", fb.Release)
	ta.Release.Base, tb.Release.Base = "debian-12-amd64-20261001 (ami-0aaa)", "debian-12-amd64-20261101 (ami-0bbb)"

	// Tags only: sets and versions, the combined lock, the base.
	got := DiffFacts(ta, tb).String()
	for _, want := range []string{"~ api 1.4.2 -> 1.5.0", "+ cron 2", "- worker 2.0", "~ locks ", "~ base debian-12-amd64-20261001 (ami-0aaa) -> debian-12-amd64-20261101 (ami-0bbb)",
		"unknown: distributions: only tags are known of api-node@1 (ami-1) and api-node@2 (ami-2); their receipts would tell"} {
		if !strings.Contains(got, want) {
			t.Errorf("tags diff lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "  distributions:\n") {
		t.Errorf("tags alone know no distributions:\n%s", got)
	}

	// With the receipts of each release, checked against its tags.
	files := func(dir string) []ReceiptFile {
		f, err := ReadReceipts(dir)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	got = DiffFacts(ta.WithReceipts(a, files(a)), tb.WithReceipts(b, files(b))).String()
	if !strings.Contains(got, "~ flask 3.1.2 -> 3.1.3") || strings.Contains(got, "unknown: distributions:") {
		t.Errorf("tags and receipts:\n%s", got)
	}
	// Receipts of another bake are not used.
	wrong := ta.WithReceipts(b, files(b))
	if len(wrong.Sources) != 1 || len(wrong.Notes) != 1 || !strings.Contains(wrong.Notes[0], "not api-node@1 (ami-1)'s pipbake:receipt-sha256") {
		t.Errorf("mismatched receipts: %+v", wrong)
	}
	if got := DiffFacts(wrong, tb).String(); !strings.Contains(got, "receipts "+b+" not used") {
		t.Errorf("the note is in the diff:\n%s", got)
	}

	// A cut pipbake:sets says how many sets it left out.
	cut := FactsFromTags("x", Release{Family: "f", Release: "1", Sets: "a@1,+3"})
	if cut.SetsCut != 3 || len(cut.Sets) != 1 {
		t.Errorf("cut: %+v", cut)
	}
	if got := DiffFacts(cut, cut).String(); !strings.Contains(got, "x: 3 sets beyond what pipbake:sets holds") {
		t.Errorf("cut diff:\n%s", got)
	}
}

func TestRevocation(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 500, time.FixedZone("x", 3600))
	r, err := NewRevocation("  CVE-2026-1234 in flask  ", at)
	if err != nil {
		t.Fatal(err)
	}
	tags := r.Tags()
	if tags[TagRevoked] != "CVE-2026-1234 in flask" || tags[TagRevokedAt] != "2026-11-26T09:00:00Z" {
		t.Errorf("tags: %v", tags)
	}
	back := RevocationFromTags(tags)
	if back == nil || *back != r || back.String() != "revoked 2026-11-26T09:00:00Z: CVE-2026-1234 in flask" {
		t.Errorf("round trip: %+v", back)
	}
	if RevocationFromTags(map[string]string{TagFamily: "f"}) != nil {
		t.Error("not revoked")
	}
	for _, bad := range []string{"", "   ", strings.Repeat("x", 257), "a\nb", "a\x00"} {
		if _, err := NewRevocation(bad, at); err == nil {
			t.Errorf("reason %q accepted", bad)
		}
	}
}
