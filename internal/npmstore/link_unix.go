//go:build unix

package npmstore

import (
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// filesDirFD is DIR/files opened once: copies are looked up and linked
// relative to it, not by a path walked from the root each time (a third
// of the linking's system time on the large fixture).
func (s *Store) filesDirFD() (int, error) {
	s.filesOnce.Do(func() {
		dir := filepath.Join(s.dir, filesDir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			s.filesErr = err
			return
		}
		s.filesFD, s.filesErr = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	return s.filesFD, s.filesErr
}

func (s *Store) intact(name string, size int64, perm fs.FileMode) bool {
	fd, err := s.filesDirFD()
	if err != nil {
		return false
	}
	var st unix.Stat_t
	if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == size && fs.FileMode(st.Mode&0o777) == perm &&
		st.Mtim.Sec == Stamp.Unix() && st.Mtim.Nsec == 0
}

func (s *Store) link(name, dest string) error {
	fd, err := s.filesDirFD()
	if err != nil {
		return err
	}
	if err := unix.Linkat(fd, name, unix.AT_FDCWD, dest, 0); err != nil {
		return &os.LinkError{Op: "link", Old: filepath.Join(s.dir, filesDir, name), New: dest, Err: err}
	}
	return nil
}

// Close releases what the store holds open (its files folder, once
// linking used it).
func (s *Store) Close() error {
	var err error
	s.filesOnce.Do(func() { s.filesErr = os.ErrClosed })
	if s.filesErr == nil {
		err = unix.Close(s.filesFD)
		s.filesErr = os.ErrClosed
	}
	return err
}
