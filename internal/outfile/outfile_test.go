package outfile

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

func TestCreateRefusesExistingAndSymlinks(t *testing.T) {
	dir := t.TempDir()
	var d Dirs
	p := filepath.Join(dir, "a", "b", "c.txt")
	f, err := d.Create(p, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != "hello" {
		t.Errorf("content %q", got)
	}
	if _, err := Create(p, 0o644); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create over an existing file: %v, want exists", err)
	}
	if runtime.GOOS == "windows" {
		return
	}
	outside := filepath.Join(t.TempDir(), "target")
	link := filepath.Join(dir, "a", "link")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(link, 0o644); err == nil {
		t.Error("Create through a dangling symlink succeeded")
	}
	if _, err := os.Lstat(outside); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the symlink's target was created: %v", err)
	}
}

func TestDirsConcurrent(t *testing.T) {
	dir := t.TempDir()
	var d Dirs
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := filepath.Join(dir, "x", "y", string(rune('a'+i%8)), "f"+string(rune('A'+i)))
			f, err := d.Create(p, 0o644)
			if err == nil {
				err = f.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err == nil && de.Type().IsRegular() {
			n++
		}
		return nil
	})
	if n != 64 {
		t.Errorf("%d files, want 64", n)
	}
}

func TestCopy(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 10000)
	var out bytes.Buffer
	h := sha256.New()
	n, err := Copy(&out, iotest.HalfReader(bytes.NewReader(data)), h, make([]byte, 64<<10))
	if err != nil || n != int64(len(data)) || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("Copy: %d %v", n, err)
	}
	if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
		t.Error("hash differs")
	}
	_, err = Copy(&bytes.Buffer{}, iotest.ErrReader(errors.New("boom")), sha256.New(), make([]byte, 8))
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("a read error: %v", err)
	}
}
