// Package release manages a root of installed releases:
//
//	<root>/releases/<id>/   one complete environment per release
//	<root>/current          symlink to releases/<id>, swapped atomically
//
// A release directory is complete once its receipt (ReceiptName) exists;
// directories without one are leftovers of failed installs and are removed
// by the next install. `current` only ever points at a complete release.
package release

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// ReceiptName is the file whose presence marks a release complete.
const ReceiptName = "pipbake-receipt.json"

// DefaultKeep is how many releases an install keeps by default.
const DefaultKeep = 5

// Root is a release root directory.
type Root struct {
	Dir string // absolute
}

// Open returns the root at dir, which need not exist yet.
func Open(dir string) (*Root, error) {
	if dir == "" {
		return nil, errors.New("release root: no directory given")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("release root %q: %w", dir, err)
	}
	return &Root{Dir: abs}, nil
}

func (r *Root) releases() string { return filepath.Join(r.Dir, "releases") }
func (r *Root) currentLink() string {
	return filepath.Join(r.Dir, "current")
}

// Path is the directory of release id.
func (r *Root) Path(id string) string { return filepath.Join(r.releases(), id) }

// Release is one complete release.
type Release struct {
	ID      string
	Path    string
	Current bool
	ModTime time.Time
}

// Current returns the id current points at, or "" when there is none.
func (r *Root) Current() (string, error) {
	to, err := os.Readlink(r.currentLink())
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", r.currentLink(), err)
	}
	if !filepath.IsAbs(to) {
		to = filepath.Join(r.Dir, to)
	}
	if filepath.Dir(filepath.Clean(to)) != r.releases() {
		return "", fmt.Errorf("%s points at %q, outside %s", r.currentLink(), to, r.releases())
	}
	return filepath.Base(to), nil
}

// List returns the complete releases, oldest first (by Less).
func (r *Root) List() ([]Release, error) {
	entries, err := os.ReadDir(r.releases())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list releases in %s: %w", r.Dir, err)
	}
	cur, err := r.Current()
	if err != nil {
		return nil, err
	}
	var out []Release
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := r.Path(e.Name())
		st, err := os.Stat(filepath.Join(p, ReceiptName))
		if err != nil {
			continue // incomplete
		}
		out = append(out, Release{ID: e.Name(), Path: p, Current: e.Name() == cur, ModTime: st.ModTime()})
	}
	sort.Slice(out, func(i, j int) bool { return Less(out[i].ID, out[j].ID) })
	return out, nil
}

// Less orders release ids: digit runs compare as numbers, so "1.10" sorts
// after "1.9" and timestamp ids sort by time.
func Less(a, b string) bool {
	for a != "" && b != "" {
		da, db := isDigit(a[0]), isDigit(b[0])
		if da && db {
			na, ra := digits(a)
			nb, rb := digits(b)
			ta, tb := strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
			if len(ta) != len(tb) {
				return len(ta) < len(tb)
			}
			if ta != tb {
				return ta < tb
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digits(s string) (string, string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

// ValidID checks that id can name a release directory.
func ValidID(id string) error {
	if id == "" || len(id) > 128 {
		return fmt.Errorf("release id %q: must be 1 to 128 characters", id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '.' || c == '_' || c == '-' || c == '+') {
			return fmt.Errorf("release id %q: only letters, digits, '.', '_', '-' and '+' are allowed", id)
		}
	}
	if id[0] == '.' || id[0] == '-' {
		return fmt.Errorf("release id %q: must not start with '.' or '-'", id)
	}
	return nil
}

// NewID returns a sortable, unique-enough release id: the UTC time and the
// first 8 hex digits of the lock's sha256, e.g. 20261126T051502Z-3f2a9c1d.
func NewID(now time.Time, lockSHA256 string) string {
	id := now.UTC().Format("20060102T150405Z")
	if len(lockSHA256) >= 8 {
		id += "-" + lockSHA256[:8]
	}
	return id
}

// Lock takes the root's install lock (flock on <root>/.pipbake.lock),
// creating the root if needed. Installs, rollbacks and prunes of one root
// run one at a time.
func (r *Root) Lock() (unlock func(), err error) {
	if err := os.MkdirAll(r.releases(), 0o755); err != nil {
		return nil, fmt.Errorf("create release root %s: %w", r.Dir, err)
	}
	f, err := os.OpenFile(filepath.Join(r.Dir, ".pipbake.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock release root %s: %w", r.Dir, err)
	}
	if err := lockFile(f, func() { fmt.Fprintf(os.Stderr, "pipbake: waiting for another pipbake working on %s\n", r.Dir) }); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock release root %s: %w", r.Dir, err)
	}
	return func() { f.Close() }, nil
}

// ErrCurrent is returned by Prepare when the release id is already the
// complete, current release.
var ErrCurrent = errors.New("release is already installed and current")

// Prepare makes <root>/releases/<id> ready for an install: it removes
// leftovers of failed installs (incomplete release directories other than
// current) and a complete non-current release of the same id, which is being
// baked again. Call it with the lock held.
func (r *Root) Prepare(id string) (string, error) {
	if err := ValidID(id); err != nil {
		return "", err
	}
	cur, err := r.Current()
	if err != nil {
		return "", err
	}
	entries, err := os.ReadDir(r.releases())
	if err != nil {
		return "", fmt.Errorf("prepare release %s: %w", id, err)
	}
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Name()] = true
	}
	for _, e := range entries {
		name := e.Name()
		if name == cur || !e.IsDir() {
			continue
		}
		p := r.Path(name)
		if old, ok := strings.CutPrefix(name, retiredPrefix); ok {
			// set aside by an install that did not finish: put back while
			// complete and not replaced, else finish removing it
			if ValidID(old) == nil && !have[old] && isComplete(p) {
				if err := os.Rename(p, r.Path(old)); err != nil {
					return "", fmt.Errorf("put back release %s set aside by an unfinished install: %w", old, err)
				}
				have[old] = true
				continue
			}
		} else if isComplete(p) && name != id {
			continue // a complete release
		}
		if err := removeRelease(p); err != nil {
			return "", fmt.Errorf("remove leftover release directory %s: %w", p, err)
		}
	}
	// switch links of an install killed while switching
	if leftovers, _ := filepath.Glob(filepath.Join(r.Dir, ".current-*")); len(leftovers) > 0 {
		for _, p := range leftovers {
			_ = os.Remove(p)
		}
	}
	if id == cur {
		if isComplete(r.Path(id)) {
			return "", fmt.Errorf("release %q in %s: %w", id, r.Dir, ErrCurrent)
		}
		return "", fmt.Errorf("release %q in %s: current points at it but it has no receipt; roll back or install under a new release id", id, r.Dir)
	}
	p := r.Path(id)
	if err := os.Mkdir(p, 0o755); err != nil {
		return "", fmt.Errorf("create release directory %s: %w", p, err)
	}
	return p, nil
}

func isComplete(p string) bool {
	_, err := os.Stat(filepath.Join(p, ReceiptName))
	return err == nil
}

// removeRelease removes a release directory, its receipt first: a removal
// cut short leaves an incomplete directory, never a complete-looking
// release with files missing.
func removeRelease(p string) error {
	if err := os.Remove(filepath.Join(p, ReceiptName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		if _, statErr := os.Lstat(p); errors.Is(statErr, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return removeAll(p)
}

// removeAll removes a tree, making read-only directories writable first
// so a tree a package wrote with odd modes can still be cleaned.
func removeAll(p string) error {
	err := os.RemoveAll(p)
	// a process of a killed install (a bytecode compiler finishing its
	// file) may still add a file while the tree is removed: try again
	for try := 0; try < 3 && errors.Is(err, syscall.ENOTEMPTY); try++ {
		time.Sleep(50 * time.Millisecond)
		err = os.RemoveAll(p)
	}
	if err == nil || !errors.Is(err, fs.ErrPermission) {
		return err
	}
	_ = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(q, 0o755)
		}
		return nil
	})
	return os.RemoveAll(p)
}

// Abort removes the directory of a failed install. current is untouched.
func (r *Root) Abort(id string) error {
	cur, _ := r.Current()
	if id == cur {
		return nil
	}
	return removeRelease(r.Path(id))
}

// retiredPrefix names a release set aside by Retire.
const retiredPrefix = ".retired-"

// Retire sets release id aside (releases/.retired-<id>, out of List) so
// that an install can prune it before switching current and still put it
// back (Unretire) if the switch fails; Remove deletes it for good. An
// install killed in between leaves it set aside: the next Prepare puts it
// back. The current release cannot be retired.
func (r *Root) Retire(id string) error {
	cur, err := r.Current()
	if err != nil {
		return err
	}
	if id == cur {
		return fmt.Errorf("prune release %s in %s: it is current", id, r.Dir)
	}
	if err := os.Rename(r.Path(id), r.Path(retiredPrefix+id)); err != nil {
		return fmt.Errorf("prune release %s: %w", id, err)
	}
	return nil
}

// Unretire puts back a release Retire set aside.
func (r *Root) Unretire(id string) error {
	if err := os.Rename(r.Path(retiredPrefix+id), r.Path(id)); err != nil {
		return fmt.Errorf("put back release %s: %w", id, err)
	}
	return nil
}

// RemoveRetired deletes a release Retire set aside.
func (r *Root) RemoveRetired(id string) error {
	if err := removeRelease(r.Path(retiredPrefix + id)); err != nil {
		return fmt.Errorf("prune release %s: %w", id, err)
	}
	return nil
}

// Restore points current back at release id, complete or not, or removes
// current when id is "": it undoes a Switch.
func (r *Root) Restore(id string) error {
	if id != "" {
		return r.link(id)
	}
	if err := os.Remove(r.currentLink()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", r.currentLink(), err)
	}
	return syncDir(r.Dir)
}

// Switch points current at release id, atomically: a new symlink is made
// beside it and renamed over it, then the directory is synced.
func (r *Root) Switch(id string) error {
	p := r.Path(id)
	if _, err := os.Stat(filepath.Join(p, ReceiptName)); err != nil {
		return fmt.Errorf("switch %s to release %q: it is not a complete release: %w", r.currentLink(), id, err)
	}
	return r.link(id)
}

// link points current at releases/<id>.
func (r *Root) link(id string) error {
	tmp := filepath.Join(r.Dir, fmt.Sprintf(".current-%d", os.Getpid()))
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Join("releases", id), tmp); err != nil {
		return fmt.Errorf("switch current to %q: %w", id, err)
	}
	if err := os.Rename(tmp, r.currentLink()); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("switch current to %q: %w", id, err)
	}
	return syncDir(r.Dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// SyncDir flushes a directory entry to disk.
func SyncDir(dir string) error { return syncDir(dir) }

// Prune removes the oldest complete releases beyond keep, never the current
// one, and returns the ids removed.
func (r *Root) Prune(keep int) ([]string, error) {
	ids, err := r.PruneList(keep, "")
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, id := range ids {
		if err := removeRelease(r.Path(id)); err != nil {
			return removed, fmt.Errorf("prune release %s: %w", id, err)
		}
		removed = append(removed, id)
	}
	return removed, nil
}

// PruneList returns the complete releases, oldest first, that keeping
// keep releases removes once release next is current (next "": as things
// are). Neither next nor, when next is "", the current release is listed;
// with next given, the current release may be, and exactly keep releases
// remain, next among them, wherever next sorts: an install whose id sorts
// before others (installs racing, ids chosen by hand) still leaves keep.
// With next "", the newest keep remain and current, wherever it sorts.
func (r *Root) PruneList(keep int, next string) ([]string, error) {
	if keep < 1 {
		return nil, fmt.Errorf("prune %s: keep must be at least 1, got %d", r.Dir, keep)
	}
	list, err := r.List()
	if err != nil {
		return nil, err
	}
	if next == "" { // the newest keep stay, and current wherever it sorts
		var ids []string
		for i := 0; i < len(list)-keep; i++ {
			if !list[i].Current {
				ids = append(ids, list[i].ID)
			}
		}
		return ids, nil
	}
	total := len(list)
	var others []string
	seen := false
	for _, rel := range list {
		if rel.ID == next {
			seen = true
			continue
		}
		others = append(others, rel.ID)
	}
	if !seen {
		total++ // next is not complete yet: it will be
	}
	n := min(total-keep, len(others))
	if n <= 0 {
		return nil, nil
	}
	return others[:n], nil
}

// Rollback points current at release to, or, when to is empty, at the
// release before the current one. It returns the ids before and after.
func (r *Root) Rollback(to string) (from, dest string, err error) {
	list, err := r.List()
	if err != nil {
		return "", "", err
	}
	cur, err := r.Current()
	if err != nil {
		return "", "", err
	}
	if to == "" {
		idx := -1
		for i, rel := range list {
			if rel.ID == cur {
				idx = i
			}
		}
		switch {
		case cur == "":
			return "", "", fmt.Errorf("roll back %s: no current release", r.Dir)
		case idx < 0:
			return "", "", fmt.Errorf("roll back %s: current release %q is not complete; use --to", r.Dir, cur)
		case idx == 0:
			return "", "", fmt.Errorf("roll back %s: %q is the oldest release; nothing earlier to go back to", r.Dir, cur)
		}
		to = list[idx-1].ID
	} else {
		found := false
		var ids []string
		for _, rel := range list {
			found = found || rel.ID == to
			ids = append(ids, rel.ID)
		}
		if !found {
			return "", "", fmt.Errorf("roll back %s: no complete release %q (have %s)", r.Dir, to, strings.Join(ids, ", "))
		}
		if to == cur {
			return "", "", fmt.Errorf("roll back %s: %q is already current", r.Dir, to)
		}
	}
	if err := r.Switch(to); err != nil {
		return "", "", err
	}
	return cur, to, nil
}
