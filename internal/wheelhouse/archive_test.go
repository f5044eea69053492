package wheelhouse

import (
	"archive/tar"
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pipbake/packer-plugin-pipbake/internal/lock"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheel"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelbuild"
)

// TestArchive: a tar file is a wheelhouse whose .whl entries are chosen
// and opened where they lie, mapped or read through the file, with the
// digest of exactly the entry's bytes; other entries are ignored.
func TestArchive(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: 0o644, Format: tar.FormatPAX,
			PAXRecords: map[string]string{"comment": strings.Repeat("x", 700)}}) // headers of several blocks
		tw.Write(data)
	}
	add("pipbake", []byte("\x7fELF agent"))
	digests := map[string]string{}
	for _, name := range []string{"alpha", "beta"} {
		fsys := fstest.MapFS{
			"pyproject.toml":               {Data: []byte("[project]\nname = \"" + name + "\"\nversion = \"1.0\"\n")},
			"src/" + name + "/__init__.py": {Data: []byte("X = '" + name + "'\n")},
		}
		var wb bytes.Buffer
		res, err := wheelbuild.Write(fsys, &wb, wheelbuild.Options{})
		if err != nil {
			t.Fatal(err)
		}
		add("wheels/"+res.File, wb.Bytes())
		digests[name] = res.SHA256
	}
	add("wheels/README.txt", []byte("not a wheel"))
	add("plan.json", []byte("{}"))
	tw.Close()
	p := filepath.Join(dir, "bundle.tar")
	os.WriteFile(p, buf.Bytes(), 0o644)

	h, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.arc == nil || h.arc.data == nil {
		t.Fatal("the archive was not opened as a mapped archive")
	}
	choices, err := h.Choose([]lock.Pin{{Name: "alpha", Version: "1.0"}, {Name: "beta", Version: "1.0"}}, cp311)
	if err != nil {
		t.Fatal(err)
	}
	for _, mapped := range []bool{true, false} {
		data := h.arc.data
		if !mapped {
			h.arc.data = nil // as where the archive cannot be mapped
		}
		for _, c := range choices {
			var sum string
			w, err := h.OpenWheel(c, wheel.CheckDigest(func(s []byte) error { sum = hex.EncodeToString(s); return nil }))
			if err != nil {
				t.Fatalf("mapped %v: %v", mapped, err)
			}
			if sum != digests[c.Pin.Name] || w.Path != "" {
				t.Errorf("mapped %v: %s has sha256 %s in the archive, want %s", mapped, c.Name.File, sum, digests[c.Pin.Name])
			}
			init, err := w.ReadMember(c.Pin.Name + "/__init__.py")
			if err != nil || string(init) != "X = '"+c.Pin.Name+"'\n" {
				t.Errorf("mapped %v: read %q, %v", mapped, init, err)
			}
			w.Close()
		}
		h.arc.data = data
	}
	if _, err := h.Choose([]lock.Pin{{Name: "gamma", Version: "1.0"}}, cp311); err == nil || !strings.Contains(err.Error(), "gamma==1.0: no wheel in "+p) {
		t.Errorf("a missing wheel: %v", err)
	}

	// the same wheel twice is refused
	tw = tar.NewWriter(&buf)
	buf.Reset()
	add("a/six-1.17.0-py2.py3-none-any.whl", []byte("1"))
	add("b/six-1.17.0-py2.py3-none-any.whl", []byte("2"))
	tw.Close()
	os.WriteFile(p, buf.Bytes(), 0o644)
	if _, err := Open(p); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Errorf("a wheel twice: %v", err)
	}

	// a sparse entry (GNU tar --sparse, PAX format 1.0) is not one run of
	// bytes in the file: refused
	sparse := filepath.Join(dir, "six-1.17.0-py2.py3-none-any.whl")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("PK"), 1<<20) // a hole before it
	f.Close()
	out, err := exec.Command("tar", "--sparse", "--format=pax", "-cf", p, "-C", dir, filepath.Base(sparse)).CombinedOutput()
	if err != nil {
		t.Fatalf("GNU tar --sparse: %v\n%s", err, out)
	}
	if _, err := Open(p); err == nil || !strings.Contains(err.Error(), "stored sparse") {
		t.Errorf("a sparse wheel: %v", err)
	}
}
