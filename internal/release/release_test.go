package release

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func complete(t *testing.T, r *Root, id string) {
	t.Helper()
	p, err := r.Prepare(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p, ReceiptName), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLifecycle(t *testing.T) {
	r, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := r.Lock()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	for _, id := range []string{"1.9", "1.10", "1.2"} {
		complete(t, r, id)
		if err := r.Switch(id); err != nil {
			t.Fatal(err)
		}
	}
	cur, _ := r.Current()
	if cur != "1.2" {
		t.Fatalf("current = %q", cur)
	}
	link, _ := os.Readlink(filepath.Join(r.Dir, "current"))
	if link != "releases/1.2" {
		t.Errorf("current should be a relative link, got %q", link)
	}
	list, _ := r.List()
	var ids []string
	for _, l := range list {
		ids = append(ids, l.ID)
	}
	if strings.Join(ids, " ") != "1.2 1.9 1.10" {
		t.Errorf("order = %v", ids)
	}
	// rolling back from the oldest is refused
	if _, _, err := r.Rollback(""); err == nil || !strings.Contains(err.Error(), "nothing earlier") {
		t.Errorf("rollback from oldest: %v", err)
	}
	if err := r.Switch("1.10"); err != nil {
		t.Fatal(err)
	}
	from, to, err := r.Rollback("")
	if err != nil || from != "1.10" || to != "1.9" {
		t.Fatalf("rollback: %s -> %s, %v", from, to, err)
	}
	if _, _, err := r.Rollback("nope"); err == nil || !strings.Contains(err.Error(), `no complete release "nope"`) {
		t.Errorf("rollback to unknown: %v", err)
	}
	// an interrupted install leaves an incomplete directory; the next
	// Prepare removes it and it is never listed
	if err := os.MkdirAll(r.Path("broken/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	complete(t, r, "2.0")
	if _, err := os.Stat(r.Path("broken")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover not removed: %v", err)
	}
	// prune keeps the newest N and never current (1.9, the oldest but one)
	removed, err := r.Prune(1)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(removed, " ") != "1.2 1.10" {
		t.Errorf("pruned %v", removed)
	}
	list, _ = r.List()
	if len(list) != 2 || !list[0].Current || list[0].ID != "1.9" {
		t.Errorf("after prune: %+v", list)
	}
	// the current release cannot be prepared again
	if _, err := r.Prepare("1.9"); !errors.Is(err, ErrCurrent) {
		t.Errorf("Prepare(current) = %v", err)
	}
	// Switch refuses an incomplete release
	if err := os.MkdirAll(r.Path("half"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := r.Switch("half"); err == nil {
		t.Error("switched to an incomplete release")
	}
}

func TestIDs(t *testing.T) {
	id := NewID(time.Date(2026, 11, 26, 5, 15, 2, 0, time.UTC), "3f2a9c1d00aa")
	if id != "20261126T051502Z-3f2a9c1d" {
		t.Errorf("NewID = %s", id)
	}
	if err := ValidID(id); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "../x", "a/b", ".hidden", "-x", "a b", strings.Repeat("x", 129)} {
		if ValidID(bad) == nil {
			t.Errorf("ValidID(%q) accepted", bad)
		}
	}
	if !Less("20261126T051502Z-aa", "20261126T051503Z-00") || !Less("r9", "r10") || Less("b", "a") {
		t.Error("Less")
	}
}
