package lru

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestScanPrune: Scan lists the shards' regular files of each kind (and
// temporary files whatever keep says); Prune drops stale temporary files,
// keeps a fresh one, and keeps the newest files that fit.
func TestScanPrune(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-48 * time.Hour)
	write := func(rel string, size int, age time.Duration) string {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		ts := old.Add(age)
		os.Chtimes(p, ts, ts)
		return p
	}
	a := write("v1/aa/a.pkg", 100, 3*time.Hour) // newest
	b := write("v1/bb/b.pkg", 100, 2*time.Hour)
	c := write("w/cc/c.pkg", 100, 1*time.Hour)
	write("v1/aa/ignored.txt", 100, 0)
	stale := write("v1/aa/"+TempPrefix+"x", 7, 0)
	fresh := write("w/cc/"+TempPrefix+"y", 7, 48*time.Hour)
	os.Symlink(a, filepath.Join(dir, "v1/aa/link.pkg"))
	os.WriteFile(filepath.Join(dir, "v1", "not-a-shard"), nil, 0o644)

	files, err := Scan(dir, []string{"v1", "w", "missing"}, func(n string) bool { return filepath.Ext(n) == ".pkg" })
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 5 {
		t.Fatalf("scanned %+v", files)
	}
	removed := Prune(files, 250)
	gone := map[string]bool{}
	for _, f := range removed {
		gone[f.Path] = true
	}
	if len(removed) != 2 || !gone[stale] || !gone[c] {
		t.Fatalf("removed %+v", removed)
	}
	for _, p := range []string{a, b, fresh} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	st, _ := os.Stat(b)
	Touch(b, st.ModTime(), time.Hour)
	if st2, _ := os.Stat(b); !st2.ModTime().After(st.ModTime()) {
		t.Error("Touch did not bump an old file")
	}
}
