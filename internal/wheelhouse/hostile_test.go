package wheelhouse

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unsafeNames are wheel file names that parse into five parts but are no
// plain file name.
var unsafeNames = []string{
	"hostile-1.0-py3./../../X-none-any.whl",
	`hostile-1.0-py3.\..\..\X-none-any.whl`,
	".hostile-1.0-py3-none-any.whl",
	"hostile-1.0-py3-none-..any.whl",
	"hostile-1.0-py3-none-any\x00.whl",
}

// TestIndexRefusesUnsafeNames: a wheelhouse.json entry whose file is not
// a plain name is refused with an error naming the index and the entry.
// (Before, names without "/" or "\" were taken, e.g. a leading dot or
// NUL.)
func TestIndexRefusesUnsafeNames(t *testing.T) {
	for _, name := range unsafeNames {
		dir := t.TempDir()
		data, _ := json.Marshal(Index{Schema: 1, Wheels: []Entry{{Name: "hostile", Version: "1.0", File: name, SHA256: strings.Repeat("a", 64)}}})
		os.WriteFile(filepath.Join(dir, IndexName), data, 0o644)
		_, err := Open(dir)
		if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, IndexName)) || !strings.Contains(err.Error(), "refused") {
			t.Errorf("%q: %v", name, err)
		}
	}
}

// TestArchiveRefusesUnsafeNames: a tar wheelhouse with a .whl entry whose
// base name is not a plain name is refused, naming the entry. (Before,
// "\" and ".." inside the base name and leading dots were taken as
// wheels.)
func TestArchiveRefusesUnsafeNames(t *testing.T) {
	for _, name := range unsafeNames {
		if strings.ContainsAny(name, "/\x00") {
			continue // tar names are paths (only the base counts) and end at NUL
		}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "wheels/" + name, Size: 2, Mode: 0o644, Format: tar.FormatPAX})
		tw.Write([]byte("PK"))
		tw.Close()
		p := filepath.Join(t.TempDir(), "bundle.tar")
		os.WriteFile(p, buf.Bytes(), 0o644)
		h, err := Open(p)
		if err == nil {
			h.Close()
		}
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "refused") {
			t.Errorf("%q: %v", name, err)
		}
	}
}

// TestJoinFile: a name from outside joins into its folder only when it
// stays there.
func TestJoinFile(t *testing.T) {
	dir := t.TempDir()
	if p, err := JoinFile(dir, "six-1.17.0-py2.py3-none-any.whl"); err != nil || p != filepath.Join(dir, "six-1.17.0-py2.py3-none-any.whl") {
		t.Fatalf("%s %v", p, err)
	}
	for _, name := range append(unsafeNames, "", ".", "..", "a/b", "/abs") {
		if p, err := JoinFile(dir, name); err == nil {
			t.Errorf("JoinFile(%q) = %s", name, p)
		}
	}
}
