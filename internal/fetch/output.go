package fetch

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pipbake/packer-plugin-pipbake/internal/wheelhouse"
)

// The output folder is written as a whole: the wheels and wheelhouse.json
// go into a staging folder beside it, which then takes its place in one
// rename. Until then --out is untouched, so a failed fetch changes nothing
// there.

// checkOut makes Out absolute and refuses a folder fetch did not write:
// one that exists, is not empty and has no wheelhouse.json, which
// replacing would destroy.
func checkOut(out string) (string, error) { return checkOutIndex(out, wheelhouse.IndexName) }

// checkOutIndex is checkOut for an output whose index file is index.
func checkOutIndex(out, index string) (string, error) {
	if out == "" {
		return "", errors.New("no output folder")
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return "", err
	}
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		abs = resolved
	}
	fi, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return abs, nil
	}
	if err != nil {
		return "", fmt.Errorf("output folder: %w", err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("output %s is not a folder", abs)
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return "", fmt.Errorf("output folder: %w", err)
	}
	if len(entries) > 0 && !exists(filepath.Join(abs, index)) {
		return "", fmt.Errorf("output folder %s has files but no %s, so pipbake fetch did not write it; give an empty or new folder", abs, index)
	}
	return abs, nil
}

// staging is the folder a fetch assembles its output in.
type staging struct {
	dir, out string
}

func newStaging(out string) (*staging, error) {
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("output folder: %w", err)
	}
	dir, err := os.MkdirTemp(parent, "."+filepath.Base(out)+".pipbake-fetch-")
	if err != nil {
		return nil, fmt.Errorf("output folder: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &staging{dir: dir, out: out}, nil
}

// add places a cached file in the staging folder: a hard link when the
// cache is on the same file system, else a copy.
func (s *staging) add(cached, file string) error {
	dst, err := wheelhouse.JoinFile(s.dir, file)
	if err != nil {
		return err
	}
	if err := os.Link(cached, dst); err == nil {
		return nil
	}
	in, err := os.Open(cached)
	if err != nil {
		return err
	}
	defer in.Close()
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, in); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// commit writes wheelhouse.json last and puts the staging folder in the
// place of out.
func (s *staging) commit(idx wheelhouse.Index) error {
	return s.commitIndex(wheelhouse.IndexName, idx)
}

// commitIndex is commit with another index file (npm tarballs).
func (s *staging) commitIndex(name string, idx any) error {
	if err := writeJSONAtomic(filepath.Join(s.dir, name), idx, true); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := syncDir(s.dir); err != nil {
		return err
	}
	if err := replaceDir(s.dir, s.out); err != nil {
		return fmt.Errorf("put the new wheelhouse in place of %s: %w", s.out, err)
	}
	return syncDir(filepath.Dir(s.out))
}

// abort removes the staging folder (and, after a commit, the old output).
func (s *staging) abort() { os.RemoveAll(s.dir) }

// replaceDir makes dir take the place of out: when out exists, the two
// are exchanged atomically where the system can (Linux renameat2), else
// out is moved aside first; dir then holds the old output, for the caller
// to remove.
func replaceDir(dir, out string) error {
	if _, err := os.Lstat(out); errors.Is(err, fs.ErrNotExist) {
		return os.Rename(dir, out)
	}
	if err := exchange(dir, out); err == nil {
		return nil
	}
	aside := dir + ".old"
	if err := os.Rename(out, aside); err != nil {
		return err
	}
	if err := os.Rename(dir, out); err != nil {
		os.Rename(aside, out)
		return err
	}
	return os.Rename(aside, dir)
}
