package pyccache

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestExportImport: the entries an agent compiled leave its cache as one
// pack readable by all, and enter another cache only when asked for and
// of the interpreter asked for.
func TestExportImport(t *testing.T) {
	agentDir := t.TempDir()
	a, err := Open(agentDir)
	if err != nil {
		t.Fatal(err)
	}
	in, other := interp(t, py311), interp(t, py312)
	k1, k2, k3 := key(in, "a", "a.py"), key(in, "b", "b.py"), key(other, "c", "c.py")
	for _, k := range []Key{k1, k2, k3} {
		if err := a.Put(k, fakePyc(k.Interp, "code of "+k.Path)); err != nil {
			t.Fatal(err)
		}
	}
	// a damaged entry and a writer's leftover are not exported
	bad := key(in, "d", "d.py")
	badPath := a.path(bad.ID())
	os.MkdirAll(filepath.Dir(badPath), 0o755)
	os.WriteFile(badPath, encodeEntry(bad.ID(), fakePyc(in, "x"))[:headerSize+3], 0o644)
	os.WriteFile(filepath.Join(filepath.Dir(badPath), tmpPrefix+"x"), []byte("partial"), 0o644)
	a.Close()

	out := filepath.Join(t.TempDir(), "back.pack")
	st, err := ExportLoose(agentDir, out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Entries != 3 {
		t.Fatalf("exported %d entries, want 3", st.Entries)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o644 || fi.Size() != st.Bytes {
		t.Fatalf("pack: %v %v (stats %+v)", fi, err, st)
	}
	if _, err := os.Stat(filepath.Join(agentDir, looseDir)); !os.IsNotExist(err) {
		t.Fatalf("loose entries left after export: %v", err)
	}

	host, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// k2 not asked for; k3 asked for as the other interpreter's key ID
	// but given with the wrong Interp: both refused.
	want := map[ID]Interp{k1.ID(): in, k3.ID(): in}
	ist, err := host.ImportPack(bytes.NewReader(data), want)
	if err != nil {
		t.Fatal(err)
	}
	if ist != (ImportStats{Stored: 1, Refused: 2}) {
		t.Fatalf("import: %+v", ist)
	}
	if got, _, ok := host.Get(k1); !ok || !bytes.Equal(got, fakePyc(in, "code of a.py")) {
		t.Fatalf("k1 after import: %q %v", got, ok)
	}
	for _, k := range []Key{k2, k3} {
		if _, _, ok := host.Get(k); ok {
			t.Fatalf("%s stored though refused", k.Path)
		}
	}
	ist, err = host.ImportPack(bytes.NewReader(data), map[ID]Interp{k1.ID(): in, k2.ID(): in, k3.ID(): other})
	if err != nil {
		t.Fatal(err)
	}
	if ist != (ImportStats{Stored: 2, Present: 1}) {
		t.Fatalf("second import: %+v", ist)
	}
	// An empty agent cache exports an empty pack, which imports nothing.
	empty := filepath.Join(t.TempDir(), "empty.pack")
	if st, err := ExportLoose(t.TempDir(), empty); err != nil || st.Entries != 0 {
		t.Fatalf("empty export: %+v %v", st, err)
	}
	data, _ = os.ReadFile(empty)
	if ist, err := host.ImportPack(bytes.NewReader(data), want); err != nil || ist != (ImportStats{}) {
		t.Fatalf("empty import: %+v %v", ist, err)
	}
}

// FuzzImportPack: whatever bytes come back from a machine, the import
// neither panics nor stores an entry it was not asked for, and what it
// stores is an entry Get then returns whole.
func FuzzImportPack(f *testing.F) {
	in := interp(f, py311)
	keys := []Key{key(in, "a", "a.py"), key(in, "b", "b.py")}
	src, err := Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	for _, k := range keys {
		src.Put(k, fakePyc(in, "code "+k.Path))
	}
	var good bytes.Buffer
	if _, err := src.WritePack(&good, keys); err != nil {
		f.Fatal(err)
	}
	f.Add(good.Bytes())
	f.Add(good.Bytes()[headerSize:])
	f.Add([]byte(packMagic))
	want := map[ID]Interp{keys[0].ID(): in}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		host, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		st, err := host.ImportPack(bytes.NewReader(data), want)
		if err != nil {
			return
		}
		var n int
		filepath.WalkDir(filepath.Join(dir, looseDir), func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				n++
				if filepath.Base(p) != keys[0].ID().String() {
					t.Fatalf("stored %s, not asked for", p)
				}
			}
			return nil
		})
		if n != st.Stored {
			t.Fatalf("%d files for %d stored", n, st.Stored)
		}
		if n == 1 {
			if _, _, ok := host.Get(keys[0]); !ok {
				t.Fatal("stored entry does not read back")
			}
		}
	})
}
