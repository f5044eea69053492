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

func ids(t *testing.T, r *Root) string {
	t.Helper()
	list, err := r.List()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range list {
		out = append(out, l.ID)
	}
	return strings.Join(out, " ")
}

// TestRetire: a release set aside for pruning leaves the list, comes back
// with Unretire, and one left aside by an install killed before its
// switch is put back by the next Prepare; the current release cannot be
// set aside; Restore undoes a Switch.
func TestRetire(t *testing.T) {
	r, _ := Open(t.TempDir())
	unlock, err := r.Lock()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	for _, id := range []string{"1", "2", "3"} {
		complete(t, r, id)
	}
	if err := r.Switch("3"); err != nil {
		t.Fatal(err)
	}
	if err := r.Retire("3"); err == nil {
		t.Error("retired the current release")
	}
	if err := r.Retire("1"); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, r); got != "2 3" {
		t.Errorf("list with 1 set aside: %s", got)
	}
	if err := r.Unretire("1"); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, r); got != "1 2 3" {
		t.Errorf("list after Unretire: %s", got)
	}
	// next sorting before a newer release still leaves exactly keep
	if got, _ := r.PruneList(1, "2"); strings.Join(got, " ") != "1 3" {
		t.Errorf("PruneList(1, next 2) = %v, want 1 3", got)
	}
	if got, _ := r.PruneList(2, "2"); strings.Join(got, " ") != "1" {
		t.Errorf("PruneList(2, next 2) = %v, want 1", got)
	}
	if got, _ := r.PruneList(2, "0"); strings.Join(got, " ") != "1 2" {
		t.Errorf("PruneList(2, next 0 not yet complete) = %v, want 1 2", got)
	}
	if got, _ := r.PruneList(1, ""); strings.Join(got, " ") != "1 2" {
		t.Errorf("PruneList(1) = %v", got)
	}
	// killed between setting aside and the switch: 1 comes back; a
	// release set aside whose removal had begun (receipt gone) goes
	if err := r.Retire("1"); err != nil {
		t.Fatal(err)
	}
	if err := r.Retire("2"); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(r.Path(retiredPrefix+"2"), ReceiptName))
	os.Symlink("releases/1", filepath.Join(r.Dir, ".current-999999"))
	complete(t, r, "4")
	if got := ids(t, r); got != "1 3 4" {
		t.Errorf("list after Prepare: %s", got)
	}
	for _, p := range []string{r.Path(retiredPrefix + "2"), filepath.Join(r.Dir, ".current-999999")} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("leftover %s not removed: %v", p, err)
		}
	}
	// Restore undoes a Switch, to a release or to no current at all
	if err := r.Switch("4"); err != nil {
		t.Fatal(err)
	}
	if err := r.Restore("3"); err != nil {
		t.Fatal(err)
	}
	if cur, _ := r.Current(); cur != "3" {
		t.Errorf("current after Restore: %s", cur)
	}
	if err := r.Restore(""); err != nil {
		t.Fatal(err)
	}
	if cur, err := r.Current(); cur != "" || err != nil {
		t.Errorf("current after Restore(\"\"): %q %v", cur, err)
	}
	// removing a release takes its receipt first
	if err := r.Retire("1"); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveRetired("1"); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, r); got != "3 4" {
		t.Errorf("list after RemoveRetired: %s", got)
	}
}
