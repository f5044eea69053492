package catalog

import (
	"encoding/json"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// FuzzDiffOfReceipts: any receipt bytes either fail with an error or give
// facts; a release compared with itself shows no difference, and a diff
// renders and encodes.
func FuzzDiffOfReceipts(f *testing.F) {
	rc := receipt.Receipt{Schema: receipt.Schema, Set: "api", Release: "1", Distributions: []receipt.Distribution{{Name: "Flask", Version: "3.1"}, {Name: "flask", Version: "3.2"}}}
	good, _ := rc.Marshal()
	f.Add(good, []byte(`{"schema":1,"set":"api","release":"2","distributions":[{"name":"api","version":"2"}]}`))
	f.Add([]byte(`{"schema":1,"set":"x","release":"1"}`), []byte(`{"schema":2}`))
	f.Add([]byte(`null`), []byte(`{"schema":1,"set":"a,b@c","release":"+3"}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ra, err := ParseReceiptFile("a.json", a)
		if err != nil {
			return
		}
		fa, err := FactsFromReceipts("a", "", []ReceiptFile{ra})
		if err != nil {
			return
		}
		if d := DiffFacts(fa, fa); !d.Same() {
			t.Fatalf("a release differs from itself: %s", d)
		}
		rb, err := ParseReceiptFile("b.json", b)
		if err != nil {
			return
		}
		fb, err := FactsFromReceipts("b", "", []ReceiptFile{rb})
		if err != nil {
			return
		}
		d := DiffFacts(fa, fb)
		_ = d.String()
		if _, err := json.Marshal(d); err != nil {
			t.Fatal(err)
		}
	})
}
