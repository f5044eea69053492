package wheel

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestMemberDamaged: a member whose bytes changed inside the archive (the
// wheel's own hash not checked here) fails its CRC-32 when read from the
// mapping, for stored and deflated members alike, and nothing is accepted.
func TestMemberDamaged(t *testing.T) {
	body := strings.Repeat("the quick brown fox jumps over the lazy dog\n", 200)
	const metadata = "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
	const wheelFile = "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
	for _, method := range []uint16{zip.Store, zip.Deflate} {
		dir := t.TempDir()
		p := filepath.Join(dir, "demo-1.0-py3-none-any.whl")
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		add := func(name, content string, m uint16) {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: m})
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte(content))
		}
		add("demo/big.txt", body, method)
		add("demo-1.0.dist-info/METADATA", metadata, zip.Deflate)
		add("demo-1.0.dist-info/WHEEL", wheelFile, zip.Deflate)
		rec := func(name, content string) string {
			sum := sha256.Sum256([]byte(content))
			return fmt.Sprintf("%s,sha256=%s,%d\n", name, base64.RawURLEncoding.EncodeToString(sum[:]), len(content))
		}
		add("demo-1.0.dist-info/RECORD", rec("demo/big.txt", body)+rec("demo-1.0.dist-info/METADATA", metadata)+rec("demo-1.0.dist-info/WHEEL", wheelFile)+"demo-1.0.dist-info/RECORD,,\n", zip.Deflate)
		zw.Close()
		data := buf.Bytes()
		good := append([]byte(nil), data...)
		if method == zip.Store {
			i := bytes.Index(data, []byte("lazy dog"))
			data[i] = 'L' // same size, different content
		} else {
			zr, _ := zip.NewReader(bytes.NewReader(data), int64(len(data)))
			off, _ := zr.File[0].DataOffset()
			data[off+int64(zr.File[0].CompressedSize64)/2] ^= 0x55
		}
		os.WriteFile(p, data, 0o644)
		w, err := Open(p)
		if err != nil {
			t.Fatalf("method %d: open: %v", method, err)
		}
		if w.mapped == nil {
			t.Fatal("the wheel was not mapped: this test is about mapped reads")
		}
		root := filepath.Join(dir, "env")
		in, err := w.Prepare(Options{Scheme: scheme(root), Root: root, Python: "/usr/bin/python3"})
		if err != nil {
			t.Fatal(err)
		}
		err = nil
		for _, j := range in.Jobs() {
			if err = j.Extract(); err != nil {
				break
			}
		}
		if err == nil || !strings.Contains(err.Error(), `member "demo/big.txt"`) {
			t.Errorf("method %d: damaged member extracted, error %v", method, err)
		}
		if method == zip.Store && !errors.Is(err, zip.ErrChecksum) {
			t.Errorf("stored member: got %v, want the CRC-32 check to catch it", err)
		}
		if err != nil && strings.Contains(err.Error(), "RECORD mismatch") {
			t.Errorf("method %d: the damage reached the RECORD check (%v): reading the member should have caught it", method, err)
		}
		w.Close()

		// the undamaged archive reads back exactly
		os.WriteFile(p, good, 0o644)
		w, err = Open(p, CheckDigest(func(sum []byte) error {
			if want := sha256.Sum256(good); !bytes.Equal(sum, want[:]) {
				t.Errorf("CheckDigest got %x, want %x", sum, want)
			}
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		got, err := w.ReadMember("demo/big.txt")
		if err != nil || string(got) != body {
			t.Errorf("method %d: read %d bytes, %v", method, len(got), err)
		}
		w.Close()
	}
}

// TestCheckDigestRefuses: a digest check's error is Open's, before the
// archive is parsed (so a tampered, unreadable file reports the check).
func TestCheckDigestRefuses(t *testing.T) {
	p := filepath.Join(t.TempDir(), "demo-1.0-py3-none-any.whl")
	os.WriteFile(p, []byte("not a zip at all"), 0o644)
	refused := errors.New("hash mismatch")
	if _, err := Open(p, CheckDigest(func([]byte) error { return refused })); err != refused {
		t.Fatalf("got %v, want the check's error", err)
	}
}

func TestWithin(t *testing.T) {
	for _, c := range []struct {
		root, p string
		in      bool
	}{
		{"/env", "/env", true},
		{"/env", "/env/lib/x.py", true},
		{"/env", "/env2/x", false},
		{"/env", "/env/../etc/passwd", false},
		{"/env/", "/env/bin/x", true},
		{"/", "/anything", true},
		{".", "lib/x", true},
		{".", "../x", false},
		{".", "/abs", false},
		{"env", "env/x", true},
		{"env", "envy/x", false},
	} {
		if got := within(c.root, c.p); got != c.in {
			t.Errorf("within(%q, %q) = %v, want %v", c.root, c.p, got, c.in)
		}
	}
	for _, c := range [][2]string{{"/env/lib", "/env/lib/a/b.py"}, {"/env/lib", "/env/bin/x"}, {"/env/lib", "/other"}, {"/env/lib", "/env/lib"}} {
		want, _ := filepath.Rel(c[0], c[1])
		if got, err := relTo(c[0], c[1]); err != nil || got != want {
			t.Errorf("relTo(%q, %q) = %q, %v; want %q", c[0], c[1], got, err, want)
		}
	}
}

// TestDirs: files in new nested folders are created from many goroutines
// at once; a file where a folder is needed is an error, not a retry loop.
func TestDirs(t *testing.T) {
	root := t.TempDir()
	var d Dirs
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := filepath.Join(root, "a", "b", fmt.Sprintf("d%d", i%5), fmt.Sprintf("f%02d", i))
			f, err := d.create(p, 0o644)
			if err != nil {
				errs <- err
				return
			}
			f.Write([]byte("x"))
			errs <- f.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(root, "a", "b"))
	if len(ents) != 5 {
		t.Fatalf("want 5 folders, got %d", len(ents))
	}
	os.WriteFile(filepath.Join(root, "file"), nil, 0o644)
	if _, err := d.create(filepath.Join(root, "file", "x"), 0o644); err == nil {
		t.Fatal("created a file under a regular file")
	}
	if _, err := d.create(filepath.Join(root, "a", "b", "d0", "f00"), 0o644); !errors.Is(err, os.ErrExist) {
		t.Fatalf("re-creating an existing file: %v, want it refused", err)
	}
}

// TestMemberDirectoryChecks: what the central directory says of a member
// is checked from the mapping as archive/zip checks it: a CRC-32 the
// directory leaves at 0 comes from the data descriptor, and content longer
// than the recorded size is refused.
func TestMemberDirectoryChecks(t *testing.T) {
	body := strings.Repeat("pack my box with five dozen liquor jugs\n", 100)
	build := func(method uint16) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf) // writes a data descriptor after every member
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: "demo/big.txt", Method: method})
		w.Write([]byte(body))
		zw.Close()
		return buf.Bytes()
	}
	// central reports the offset of member 0's central directory header.
	central := func(data []byte) int {
		i := bytes.LastIndex(data, []byte{0x50, 0x4b, 0x01, 0x02})
		if i < 0 {
			t.Fatal("no central directory header")
		}
		return i
	}
	read := func(data []byte) error {
		w := &Wheel{mapped: data}
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		rc, err := w.openMember(zr.File[0])
		if err != nil {
			return err
		}
		defer rc.Close()
		// a first read of exactly the recorded size, so the member's end is
		// found by reading on, not by an overlong read
		first := make([]byte, zr.File[0].UncompressedSize64)
		_, err = io.ReadFull(rc, first)
		if err == nil {
			_, err = io.ReadAll(rc)
		}
		if err2 := func() error { _, err := rc.Read(make([]byte, 1)); return err }(); err != nil && err2 != err {
			t.Errorf("a later read returned %v after %v: errors are not sticky", err2, err)
		}
		return err
	}

	// the directory's CRC zeroed: the descriptor's is checked instead
	data := build(zip.Store)
	binary.LittleEndian.PutUint32(data[central(data)+16:], 0)
	if err := read(data); err != nil {
		t.Fatalf("intact member, CRC only in the descriptor: %v", err)
	}
	data[bytes.Index(data, []byte("liquor"))] = 'L'
	if err := read(data); !errors.Is(err, zip.ErrChecksum) {
		t.Fatalf("damaged member, CRC only in the descriptor: got %v, want a checksum error", err)
	}

	// compressed data that inflates to more than the directory records
	for _, method := range []uint16{zip.Deflate} {
		data = build(method)
		c := central(data)
		binary.LittleEndian.PutUint32(data[c+24:], uint32(len(body)-1))
		if err := read(data); !errors.Is(err, zip.ErrFormat) {
			t.Errorf("method %d, content longer than recorded: got %v, want zip.ErrFormat", method, err)
		}
	}
}
