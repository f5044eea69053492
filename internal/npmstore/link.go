package npmstore

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/lru"
)

// Hard links, pnpm's way of laying packages out, for installs that ask
// for it: the store then also keeps one copy of each file's bytes with
// the mode it has in a release, DIR/files/<2 hex>/<sha256>-<octal mode>,
// and each package's table alone, DIR/v1/<2 hex>/<64 hex>.idx (the .pkg's
// table, sealed, without the bytes). A release's files are then hard
// links to those copies: nothing is read or written but the links.
//
// A copy is made with its modification time set to Stamp and is linked
// only while its size, mode and modification time are still the ones it
// was made with. One changed in place (through any release that links
// it) no longer is: the next install makes a new copy from the .pkg, and
// `pipbake verify` finds the changed file in every release that shares
// it. That sharing is the trade: releases made with links are not
// independent of each other.
const (
	filesDir  = "files"
	idxSuffix = ".idx"
)

// Stamp is the modification time of every file copy the store makes for
// linking (the date npm gives the files of a packed tarball).
var Stamp = time.Date(1985, 10, 26, 8, 15, 0, 0, time.UTC)

func (s *Store) idxPath(integrity string) string {
	p := s.path(integrity)
	return p[:len(p)-len(suffix)] + idxSuffix
}

// copyPath is where the copy of a file with this sha256 and mode (its
// mode in a release, after the umask) is kept.
func (s *Store) copyPath(sum [32]byte, perm fs.FileMode) string {
	return filepath.Join(s.dir, filesDir, filepath.FromSlash(copyName(sum, perm)))
}

// copyName is copyPath inside DIR/files: "<2 hex>/<64 hex>-<octal mode>".
func copyName(sum [32]byte, perm fs.FileMode) string {
	var b [2 + 1 + 64 + 1 + 3]byte
	hex.Encode(b[3:67], sum[:])
	b[0], b[1], b[2], b[67] = b[3], b[4], '/', '-'
	n := 68
	for shift := 6; shift >= 0; shift -= 3 {
		b[n] = byte('0' + (perm>>shift)&7)
		n++
	}
	return string(b[:n])
}

// Index reads the table of the package stored for integrity, written by
// PutIndex once every file of it had a copy: the files without their
// Data. A missing one is a miss; so is a damaged one (counted).
func (s *Store) Index(integrity string) ([]File, bool) {
	data, err := os.ReadFile(s.idxPath(integrity))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.damaged.Add(1)
		}
		return nil, false
	}
	body, err := unseal(data)
	if err != nil {
		s.damaged.Add(1)
		return nil, false
	}
	files, at, err := parseTable(body)
	if err != nil || at != len(body) {
		s.damaged.Add(1)
		return nil, false
	}
	return files, true
}

// PutIndex writes the table of the package stored for integrity: files
// as Get returned them.
func (s *Store) PutIndex(integrity string, files []File) error {
	if len(files) > MaxFiles {
		return fmt.Errorf("npm store: %d files", len(files))
	}
	table := header(len(files))
	for _, f := range files {
		table = appendEntry(table, f.Path, f.Mode, f.Size, f.SHA256)
	}
	return writeSealed(s.idxPath(integrity), [][]byte{table})
}

// Intact reports whether the store holds a copy of f with mode perm that
// can be linked: a regular file of f's size, with that mode and Stamp.
func (s *Store) Intact(f File, perm fs.FileMode) bool {
	return s.intact(copyName(f.SHA256, perm), f.Size, perm&0o777)
}

// EnsureCopy makes the copy of f with mode perm unless the store holds an
// intact one. Calls for one content are serialised, so files shared by
// packages laid out side by side link one copy.
func (s *Store) EnsureCopy(f File, perm fs.FileMode) error {
	mu := &s.copyMu[int(f.SHA256[0])%len(s.copyMu)]
	mu.Lock()
	defer mu.Unlock()
	if s.Intact(f, perm) {
		return nil
	}
	return s.MakeCopy(f, perm)
}

// MakeCopy makes (or remakes) the copy of f, from its Data, with mode
// perm: written whole to a temporary file, then put in place (place), so
// a copy another release links is never written into.
func (s *Store) MakeCopy(f File, perm fs.FileMode) error {
	if int64(len(f.Data)) != f.Size {
		return fmt.Errorf("npm store: copy of %s: %d bytes, want %d", f.Path, len(f.Data), f.Size)
	}
	dst := s.copyPath(f.SHA256, perm)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("npm store: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), lru.TempPrefix+"*")
	if err != nil {
		return fmt.Errorf("npm store: %w", err)
	}
	_, err = tmp.Write(f.Data)
	if err == nil {
		err = tmp.Chmod(perm & 0o777)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chtimes(tmp.Name(), Stamp, Stamp)
	}
	if err == nil {
		err = place(tmp.Name(), dst, func() bool { return s.Intact(f, perm) })
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("npm store: copy of %s: %w", f.Path, err)
	}
	return nil
}

// place puts the finished file tmp at dst. A missing dst is made by a
// link, which never replaces: when another process made the copy first
// and it is intact, that one stays (files linked to it stay shared) and
// tmp goes. Otherwise (a copy changed since it was made) tmp is renamed
// over it.
func place(tmp, dst string, intact func() bool) error {
	err := os.Link(tmp, dst)
	if err == nil || (errors.Is(err, fs.ErrExist) && intact()) {
		return os.Remove(tmp)
	}
	return os.Rename(tmp, dst)
}

// Link makes dest a hard link to the copy of f with mode perm.
func (s *Store) Link(f File, perm fs.FileMode, dest string) error {
	return s.link(copyName(f.SHA256, perm), dest)
}

// Linkable reports why files of the store cannot be hard-linked into the
// folder dir (nil when they can): another file system, or one without
// hard links.
func (s *Store) Linkable(dir string) error {
	probe := filepath.Join(s.dir, filesDir, "link-probe")
	if _, err := os.Lstat(probe); err != nil {
		if err := os.MkdirAll(filepath.Dir(probe), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(probe, nil, 0o644); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	dest := filepath.Join(dir, ".pipbake-link-probe-"+strconv.Itoa(os.Getpid()))
	if err := os.Link(probe, dest); err != nil {
		return err
	}
	return os.Remove(dest)
}
