package wheelpack

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func sampleBuilder(t *testing.T, m Meta) *Builder {
	t.Helper()
	b, err := New(m)
	if err != nil {
		t.Fatal(err)
	}
	di, data := b.DistInfo(), b.DataDir()
	for _, f := range []struct {
		name string
		mode os.FileMode
		body string
	}{
		{"zpkg/__init__.py", 0o644, "VERSION = '1.0'\n"},
		{"apkg/mod.py", 0o600, "x = 1\n"},
		{data + "/scripts/tool", 0o755, "#!python\nprint('hi')\n"},
		{di + "/METADATA", 0o644, "Metadata-Version: 2.1\nName: Demo.Pkg\nVersion: 1.0\n"},
		{di + "/entry_points.txt", 0o644, "[console_scripts]\ndemo = apkg.mod:main\n"},
		{"top.py", 0o644, strings.Repeat("compressible ", 1000)},
	} {
		if err := b.Add(f.name, f.mode, []byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func readAll(t *testing.T, f *zip.File) []byte {
	t.Helper()
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWriteLayoutAndRecord(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	dir := t.TempDir()
	b := sampleBuilder(t, Meta{Name: "Demo.Pkg", Version: "1.0"})
	res, err := b.WriteFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if res.File != "demo_pkg-1.0-py3-none-any.whl" || res.Path != filepath.Join(dir, res.File) {
		t.Fatalf("result = %+v", res)
	}
	raw, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	if res.SHA256 != hex.EncodeToString(sum[:]) || res.Size != int64(len(raw)) {
		t.Errorf("digest/size %s/%d do not match the file (%x/%d)", res.SHA256, res.Size, sum, len(raw))
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".tmp-*")); len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}

	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if f.Method != zip.Deflate {
			t.Errorf("%s: method %d, want deflate", f.Name, f.Method)
		}
		if !f.Modified.Equal(DefaultTime) {
			t.Errorf("%s: modified %v, want %v", f.Name, f.Modified, DefaultTime)
		}
	}
	want := []string{
		"apkg/mod.py",
		"demo_pkg-1.0.data/scripts/tool",
		"top.py",
		"zpkg/__init__.py",
		"demo_pkg-1.0.dist-info/METADATA",
		"demo_pkg-1.0.dist-info/WHEEL",
		"demo_pkg-1.0.dist-info/entry_points.txt",
		"demo_pkg-1.0.dist-info/RECORD",
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Fatalf("entries:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	modes := map[string]os.FileMode{"apkg/mod.py": 0o600, "demo_pkg-1.0.data/scripts/tool": 0o755, "top.py": 0o644}
	for _, f := range zr.File {
		if m, ok := modes[f.Name]; ok {
			if f.Mode() != m || f.ExternalAttrs>>16 != uint32(0o100000|m) {
				t.Errorf("%s: mode %v (attrs %o), want %v", f.Name, f.Mode(), f.ExternalAttrs>>16, m)
			}
		}
		if f.Name == "top.py" && f.CompressedSize64 >= f.UncompressedSize64/4 {
			t.Errorf("top.py not compressed: %d -> %d", f.UncompressedSize64, f.CompressedSize64)
		}
	}

	wheel := string(readAll(t, zr.File[5]))
	if wheel != "Wheel-Version: 1.0\nGenerator: pipbake-wheelpack\nRoot-Is-Purelib: false\nTag: py3-none-any\n" {
		t.Errorf("WHEEL:\n%s", wheel)
	}

	// Recompute RECORD independently of the package's helpers.
	record := string(readAll(t, zr.File[len(zr.File)-1]))
	var wantRecord strings.Builder
	for _, f := range zr.File[:len(zr.File)-1] {
		body := readAll(t, f)
		s := sha256.Sum256(body)
		wantRecord.WriteString(f.Name + ",sha256=" + strings.TrimRight(base64.URLEncoding.EncodeToString(s[:]), "=") + "," + strconv.Itoa(len(body)) + "\n")
	}
	wantRecord.WriteString("demo_pkg-1.0.dist-info/RECORD,,\n")
	if record != wantRecord.String() {
		t.Errorf("RECORD:\n%s\nwant:\n%s", record, wantRecord.String())
	}
	if err := Verify(res.Path); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestDeterministicAndSourceDateEpoch(t *testing.T) {
	build := func() []byte {
		var buf bytes.Buffer
		if _, err := sampleBuilder(t, Meta{Name: "demo", Version: "2"}).Write(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	t.Setenv("SOURCE_DATE_EPOCH", "")
	a, b := build(), build()
	if !bytes.Equal(a, b) {
		t.Fatal("two builds of the same entries differ")
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1700000001")
	c := build()
	if bytes.Equal(a, c) {
		t.Fatal("SOURCE_DATE_EPOCH did not change the archive")
	}
	zr, err := zip.NewReader(bytes.NewReader(c), int64(len(c)))
	if err != nil {
		t.Fatal(err)
	}
	want := time.Unix(1700000000, 0).UTC() // rounded down to zip's 2s resolution
	for _, f := range zr.File {
		if !f.Modified.Equal(want) {
			t.Fatalf("%s: modified %v, want %v", f.Name, f.Modified, want)
		}
	}
	t.Setenv("SOURCE_DATE_EPOCH", "12")
	if got, _ := ModTime(); !got.Equal(DefaultTime) {
		t.Errorf("pre-1980 SOURCE_DATE_EPOCH gave %v, want clamp to %v", got, DefaultTime)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "soon")
	if _, err := (&Builder{meta: Meta{Name: "x", Version: "1", Tags: []string{"py3-none-any"}}, entries: map[string]*entry{}}).Write(io.Discard); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
		t.Errorf("bad SOURCE_DATE_EPOCH: err = %v", err)
	}
}

func TestCallerWHEELAndStreaming(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	b, err := New(Meta{Name: "cext", Version: "1.0", Build: "7", Tags: []string{"cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64"}})
	if err != nil {
		t.Fatal(err)
	}
	own := "Wheel-Version: 1.0\nGenerator: someone else\nRoot-Is-Purelib: false\nTag: cp311-cp311-manylinux_2_17_x86_64\n"
	if err := b.Add(b.DistInfo()+"/WHEEL", 0o644, []byte(own)); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "mod.so")
	if err := os.WriteFile(src, []byte("\x7fELF..."), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := b.AddPath("cext/mod.so", src); err != nil {
		t.Fatal(err)
	}
	if !b.Has("cext/mod.so") || b.Has("cext/other.so") {
		t.Error("Has is wrong")
	}
	res, err := b.WriteFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if res.File != "cext-1.0-7-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl" {
		t.Errorf("file = %s", res.File)
	}
	zr, err := zip.OpenReader(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		switch f.Name {
		case "cext-1.0.dist-info/WHEEL":
			if got := string(readAll(t, f)); got != own {
				t.Errorf("caller's WHEEL replaced:\n%s", got)
			}
		case "cext/mod.so":
			if f.Mode().Perm() != 0o755 || string(readAll(t, f)) != "\x7fELF..." {
				t.Errorf("mod.so: mode %v", f.Mode())
			}
		}
	}
	if err := Verify(res.Path); err != nil {
		t.Error(err)
	}
}

func TestAddRejects(t *testing.T) {
	b, err := New(Meta{Name: "demo", Version: "1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Add("a.py", 0o644, nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"", "/abs.py", "../up.py", "a/../../b", "dir/", `win\path.py`, "a.py",
		"demo-1.dist-info/RECORD", "other-1.dist-info/METADATA", "other-1.data/scripts/x",
		"demo-1.data/bogus/x", "demo-1.data/scripts", "demo-1.data",
	} {
		if err := b.Add(name, 0o644, nil); err == nil {
			t.Errorf("Add(%q) succeeded", name)
		}
	}
	for _, m := range []Meta{
		{Name: "bad name", Version: "1"},
		{Name: "ok", Version: ""},
		{Name: "ok", Version: "1", Build: "x1"},
		{Name: "ok", Version: "1", Tags: []string{"py3-none"}},
	} {
		if _, err := New(m); err == nil {
			t.Errorf("New(%+v) succeeded", m)
		}
	}
}

func TestFilename(t *testing.T) {
	for _, tc := range []struct {
		name, version, build string
		tags                 []string
		want                 string
	}{
		{"Flask", "3.1.3", "", []string{"py3-none-any"}, "flask-3.1.3-py3-none-any.whl"},
		{"zope.interface", "6.0", "", []string{"cp311-cp311-linux_x86_64"}, "zope_interface-6.0-cp311-cp311-linux_x86_64.whl"},
		{"six", "1.17.0", "", []string{"py2-none-any", "py3-none-any"}, "six-1.17.0-py2.py3-none-any.whl"},
		{"x", "1", "2b", []string{"py3-none-any"}, "x-1-2b-py3-none-any.whl"},
		{"legacy", "1.0-r1", "", []string{"py3-none-any"}, "legacy-1.0_r1-py3-none-any.whl"},
	} {
		got, err := Filename(tc.name, tc.version, tc.build, tc.tags)
		if err != nil || got != tc.want {
			t.Errorf("Filename(%q, %q, %q, %v) = %q, %v; want %q", tc.name, tc.version, tc.build, tc.tags, got, err, tc.want)
		}
	}
	if _, err := Filename("x", "1", "", nil); err == nil {
		t.Error("no tags accepted")
	}
}

func TestParseWHEEL(t *testing.T) {
	w, err := ParseWHEEL([]byte("Wheel-Version: 1.0\r\nGenerator: bdist_wheel (0.41.2)\r\nRoot-Is-Purelib: True\r\nTag: py2-none-any\r\nTag: py3-none-any\r\nBuild: 1\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !w.RootIsPurelib || w.Generator != "bdist_wheel (0.41.2)" || strings.Join(w.Tags, " ") != "py2-none-any py3-none-any" || w.Build != "1" {
		t.Errorf("parsed %+v", w)
	}
	for _, bad := range []string{"", "Wheel-Version: 2.0\nRoot-Is-Purelib: true\n", "Wheel-Version: 1.0\n", "Wheel-Version 1.0\n"} {
		if _, err := ParseWHEEL([]byte(bad)); err == nil {
			t.Errorf("ParseWHEEL(%q) succeeded", bad)
		}
	}
}

func TestVerifyCatchesTampering(t *testing.T) {
	write := func(entries map[string]string, order []string) string {
		p := filepath.Join(t.TempDir(), "x-1-py3-none-any.whl")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		zw := zip.NewWriter(f)
		for _, n := range order {
			w, _ := zw.Create(n)
			io.WriteString(w, entries[n])
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		return p
	}
	wheel := "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
	good := "x.py," + RecordHash([]byte("x=1\n")) + ",4\nx-1.dist-info/WHEEL," + RecordHash([]byte(wheel)) + "," + strconv.Itoa(len(wheel)) + "\nx-1.dist-info/RECORD,,\n"
	order := []string{"x.py", "x-1.dist-info/WHEEL", "x-1.dist-info/RECORD"}
	if err := Verify(write(map[string]string{"x.py": "x=1\n", "x-1.dist-info/WHEEL": wheel, "x-1.dist-info/RECORD": good}, order)); err != nil {
		t.Fatalf("hand-made good wheel: %v", err)
	}
	for what, files := range map[string]map[string]string{
		"hash":     {"x.py": "x=2\n", "x-1.dist-info/WHEEL": wheel, "x-1.dist-info/RECORD": good},
		"unlisted": {"x.py": "x=1\n", "x-1.dist-info/WHEEL": wheel, "x-1.dist-info/RECORD": strings.Replace(good, "x.py,", "y.py,", 1)},
		"wheel":    {"x.py": "x=1\n", "x-1.dist-info/WHEEL": "nope", "x-1.dist-info/RECORD": good},
	} {
		if err := Verify(write(files, order)); err == nil {
			t.Errorf("Verify accepted a wheel with a bad %s", what)
		}
	}
}
