package wheel

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// wheelBytes is buildWheel's archive, in memory (seeds for fuzzing).
func wheelBytes(tb testing.TB, members []member) []byte {
	tb.Helper()
	data, err := os.ReadFile(buildWheel(tb, tb.TempDir(), "demo-1.0-py3-none-any.whl", members, nil))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// fuzzSeeds are wheels for FuzzOpen: the layout test's, one with a stored
// member, one with scripts and every scheme directory.
func fuzzSeeds(t testing.TB) [][]byte {
	var stored bytes.Buffer
	zw := zip.NewWriter(&stored)
	meta := "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Python: >=3.8\n"
	wf := "Wheel-Version: 1.0\nRoot-Is-Purelib: false\n"
	for _, m := range [][2]string{{"demo.py", "X = 1\n"}, {"demo-1.0.dist-info/METADATA", meta}, {"demo-1.0.dist-info/WHEEL", wf}} {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: m[0], Method: zip.Store})
		w.Write([]byte(m[1]))
	}
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "demo-1.0.dist-info/RECORD", Method: zip.Store})
	w.Write([]byte(recordRow("demo.py", "X = 1\n") + recordRow("demo-1.0.dist-info/METADATA", meta) + recordRow("demo-1.0.dist-info/WHEEL", wf) + "demo-1.0.dist-info/RECORD,,\n"))
	zw.Close()
	return [][]byte{
		wheelBytes(t, basic()),
		stored.Bytes(),
		wheelBytes(t, small("Wheel-Version: 0.1\nRoot-Is-Purelib: true\n",
			member{name: "demo-1.0.data/scripts/run", body: "#!python\nprint(1)\n", mode: 0o755},
			member{name: "demo-1.0.data/headers/demo.h", body: "int x;\n"},
			member{name: "demo-1.0.dist-info/RECORD.jws", body: "{}"},
			member{name: "demo-1.0.dist-info/entry_points.txt", body: "[console_scripts]\ndemo = demo:main [extra]\n"})),
	}
}

// FuzzOpen opens, checks and installs arbitrary bytes as a wheel into a
// folder of its own: no panic, an error that names the wheel, and no file,
// folder or link anywhere but inside that folder. (Writes stay within
// each member's declared size: TestSizesCheckedBeforeWriting.) Each run
// writes files, so minimizing is slow: -fuzzminimizetime 1x helps.
func FuzzOpen(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		root := filepath.Join(base, "env")
		w, err := OpenData("demo-1.0-py3-none-any.whl", data)
		if err != nil {
			var we *Error
			if !errors.As(err, &we) || we.File != "demo-1.0-py3-none-any.whl" {
				t.Fatalf("an error that does not name the wheel: %v", err)
			}
			return
		}
		defer w.Close()
		in, err := w.Prepare(Options{Scheme: scheme(root), Root: root, Python: filepath.Join(root, "bin/python"), PythonVersion: [2]int{3, 11},
			Installer: "pipbake", EnvFiles: []string{filepath.Join(root, "bin/python"), filepath.Join(root, "pyvenv.cfg")}})
		if err == nil {
			for _, j := range in.Jobs() {
				if err = j.Extract(); err != nil {
					break
				}
			}
		}
		var res *Result
		if err == nil {
			res, err = in.Finish()
		}
		_ = w.CheckPython([3]int{3, 11, 7})
		// nothing outside root: base holds root only, and root no links
		err2 := filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p == base {
				return nil
			}
			if p != root && !strings.HasPrefix(p, root+string(filepath.Separator)) {
				t.Errorf("wrote %s, outside %s", p, root)
			}
			if d.Type()&os.ModeSymlink != 0 {
				t.Errorf("made a symlink %s", p)
			}
			return nil
		})
		if err2 != nil {
			t.Fatal(err2)
		}
		if err != nil {
			return
		}
		// every file installed from the archive matches its RECORD row
		for _, f := range res.Files {
			if !strings.HasPrefix(f.Path, root+string(filepath.Separator)) {
				t.Errorf("result names %s, outside %s", f.Path, root)
			}
		}
	})
}

// FuzzHeaders: WHEEL and METADATA headers parse without panicking into
// lower-case, trimmed keys, and what they parse to renders back to text
// that parses to the same.
func FuzzHeaders(f *testing.F) {
	for _, s := range []string{
		"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: click>=8\nRequires-Dist: x; extra == 'y'\n\nbody\n",
		"Wheel-Version: 1.0\r\nGenerator: bdist_wheel (0.41.2)\r\nRoot-Is-Purelib: True\r\nTag: py3-none-any\r\n",
		"License: line one\n        line two\n\tline three\nName: x\n",
		"no colon here\n: empty key\nKey:\n  continued\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h := parseHeaders(data)
		keys := make([]string, 0, len(h))
		for k, vs := range h {
			if k != strings.ToLower(k) || k != strings.TrimSpace(k) || strings.ContainsAny(k, ":\n") {
				t.Fatalf("key %q is not lower-case, trimmed and colon-free", k)
			}
			for _, v := range vs {
				for _, line := range strings.Split(v, "\n") {
					if line != strings.TrimSpace(line) {
						t.Fatalf("value line %q of %q is not trimmed", line, k)
					}
				}
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			for _, v := range h[k] {
				b.WriteString(k + ": " + strings.ReplaceAll(v, "\n", "\n ") + "\n")
			}
		}
		if again := parseHeaders([]byte(b.String())); !reflect.DeepEqual(again, h) {
			t.Fatalf("headers %q render as %q, which parses to %q", h, b.String(), again)
		}
	})
}

// FuzzRecord: RECORD parses without panicking into rows with a path,
// an accepted algorithm with a digest of its length (or none), a size of
// -1 or more and no path twice; rendered back as CSV, they parse to the
// same rows.
func FuzzRecord(f *testing.F) {
	for _, s := range []string{
		recordRow("demo/__init__.py", "X = 1\n") + "demo-1.0.dist-info/RECORD,,\n",
		"a,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=,0\n\"b,c.py\",,\n",
		"x,sha512=" + strings.Repeat("A", 86) + ",12,extra\n\ny,sha=abc,1\n",
		"z,md5=AAAA,\n\"unterminated\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := ParseRecord(data)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		var buf bytes.Buffer
		cw := csv.NewWriter(&buf)
		for _, r := range rows {
			if r.Path == "" || seen[r.Path] {
				t.Fatalf("row %+v: empty or repeated path", r)
			}
			seen[r.Path] = true
			if (r.Algorithm == "") != (r.Digest == nil) || (r.Algorithm != "" && digestSize(r.Algorithm) != len(r.Digest)) {
				t.Fatalf("row %+v: algorithm and digest disagree", r)
			}
			if r.Size < -1 {
				t.Fatalf("row %+v: size", r)
			}
			digest, size := "", ""
			if r.Algorithm != "" {
				digest = EncodeDigest(r.Algorithm, r.Digest)
			}
			if r.Size >= 0 {
				size = strconv.FormatInt(r.Size, 10)
			}
			cw.Write([]string{r.Path, digest, size})
		}
		cw.Flush()
		again, err := ParseRecord(buf.Bytes())
		if err != nil {
			t.Fatalf("rows %+v render as %q, which does not parse: %v", rows, buf.String(), err)
		}
		if len(again) != len(rows) {
			t.Fatalf("%d rows render as %q, which parses to %d", len(rows), buf.String(), len(again))
		}
		for i := range rows {
			if !reflect.DeepEqual(again[i].RecordEntry, rows[i].RecordEntry) {
				t.Fatalf("row %+v renders back as %+v", rows[i].RecordEntry, again[i].RecordEntry)
			}
		}
	})
}

// FuzzEntryPoints: entry_points.txt parses without panicking into scripts
// whose names are file names (no separators, not . or ..) and whose
// targets are dotted identifiers; rendered back, they parse to the same.
func FuzzEntryPoints(f *testing.F) {
	for _, s := range []string{
		"[console_scripts]\ndemo = demo.cli:main\npip3.8 = pip:main\n\n[gui_scripts]\ndemo-gui = demo.cli:main.sub [extra]\n\n[other]\nx = y:z\n",
		"# comment\n; also\n[console_scripts]\r\n a = b:c \r\na = d:e\n",
		"[console_scripts]\nbad = nocolon\n",
		"[gui_scripts]\n../x = a:b\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		console, gui, err := ParseEntryPoints(data)
		if err != nil {
			return
		}
		var b strings.Builder
		for i, list := range [][]EntryPoint{console, gui} {
			b.WriteString([]string{"[console_scripts]\n", "[gui_scripts]\n"}[i])
			names := map[string]bool{}
			for _, ep := range list {
				if ep.Name == "" || ep.Name == "." || ep.Name == ".." || strings.ContainsAny(ep.Name, "/\\\x00\n") {
					t.Fatalf("entry point name %q is not a file name", ep.Name)
				}
				if names[ep.Name] {
					t.Fatalf("%q listed twice", ep.Name)
				}
				names[ep.Name] = true
				for _, part := range append(strings.Split(ep.Module, "."), strings.Split(ep.Attr, ".")...) {
					if !isIdentifier(part) {
						t.Fatalf("entry point %+v: %q is not an identifier", ep, part)
					}
				}
				b.WriteString(ep.Name + " = " + ep.Module + ":" + ep.Attr + "\n")
			}
		}
		c2, g2, err := ParseEntryPoints([]byte(b.String()))
		if err != nil || !reflect.DeepEqual(c2, console) || !reflect.DeepEqual(g2, gui) {
			t.Fatalf("%v %v render as %q, which parses to %v %v (%v)", console, gui, b.String(), c2, g2, err)
		}
	})
}
