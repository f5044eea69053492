package wheelhouse

import (
	"archive/tar"
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/wheel"
)

// FuzzParseIndex: no wheelhouse.json makes ParseIndex panic; every entry
// it accepts names a file directly in the folder, once.
func FuzzParseIndex(f *testing.F) {
	f.Add([]byte(`{"schema":1,"wheels":[{"name":"six","version":"1.17.0","file":"six-1.17.0-py2.py3-none-any.whl","sha256":"ab","size":3,"source":"x"}]}`))
	f.Add([]byte(`{"schema":1,"wheels":[{"file":"../../etc/passwd"}]}`))
	f.Add([]byte(`{"schema":1,"wheels":[{"file":"hostile-1.0-py3./../../X-none-any.whl"}]}`))
	f.Add([]byte(`{"schema":1,"wheels":[{"file":"hostile-1.0-py3.\\..\\..\\X-none-any.whl"}]}`))
	f.Add([]byte(`{"schema":1,"wheels":[{"file":"a-1-py3-none-any.whl"},{"file":"a-1-py3-none-any.whl"}]}`))
	f.Add([]byte(`{"wheels":null}`))
	f.Add([]byte(`[]`))
	const dir = "/srv/wheelhouse"
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := ParseIndex(data)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, e := range idx.Wheels {
			p, err := JoinFile(dir, e.File)
			if err != nil || filepath.Dir(p) != dir {
				t.Fatalf("accepted %q: %s %v", e.File, p, err)
			}
			if seen[e.File] {
				t.Fatalf("accepted %q twice", e.File)
			}
			seen[e.File] = true
		}
	})
}

// FuzzOpenArchive: no tar file makes listing it panic; every wheel it
// lists has a plain name and lies within the file, and opening it
// (wheel's checks) does not panic either.
func FuzzOpenArchive(f *testing.F) {
	tarOf := func(entries ...string) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, e := range entries {
			name, data, _ := strings.Cut(e, "=")
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: 0o644})
			tw.Write([]byte(data))
		}
		tw.Close()
		return buf.Bytes()
	}
	f.Add(tarOf("wheels/six-1.17.0-py2.py3-none-any.whl=PK\x05\x06"+strings.Repeat("\x00", 18), "plan.json={}"))
	f.Add(tarOf(`wheels/..\..\six-1.17.0-py2.py3-none-any.whl=x`))
	f.Add(tarOf("a/six-1.17.0-py2.py3-none-any.whl=1", "b/six-1.17.0-py2.py3-none-any.whl=2"))
	full := tarOf("six-1.17.0-py2.py3-none-any.whl=" + strings.Repeat("z", 3000))
	f.Add(full[:1024]) // the content cut short
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		files, sections, err := listArchive(bytes.NewReader(data), "bundle.tar")
		if err != nil {
			return
		}
		if len(files) != len(sections) {
			t.Fatalf("%d files, %d sections", len(files), len(sections))
		}
		for _, n := range files {
			if err := wheel.CheckFileName(n.File); err != nil {
				t.Fatalf("listed %q: %v", n.File, err)
			}
			s, ok := sections[n.File]
			if !ok || s.off < 0 || s.size < 0 || s.off+s.size > int64(len(data)) {
				t.Fatalf("%s: section %+v of a %d-byte file", n.File, s, len(data))
			}
			if w, err := wheel.OpenData(n.File, data[s.off:s.off+s.size:s.off+s.size]); err == nil {
				w.Close()
			}
		}
	})
}
