package receipt

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// release writes a small release r1 (one distribution, a module, a
// script) under dir, sealed, and returns its path and receipt.
func release(t testing.TB, dir string) (string, *Receipt) {
	t.Helper()
	rel := filepath.Join(dir, "releases", "r1")
	files := map[string]string{
		"lib/site-packages/m.py":                      "print('m')\n",
		"lib/site-packages/m-1.0.dist-info/METADATA":  "Metadata-Version: 2.1\nName: m\nVersion: 1.0\n",
		"lib/site-packages/m-1.0.dist-info/INSTALLER": "pipbake\n",
		"bin/m":      "#!/bin/sh\n",
		"pyvenv.cfg": "home = /usr/bin\n",
	}
	var record strings.Builder
	for p, body := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(rel, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(p, "bin/") {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(rel, p), []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(rel, p), mode); err != nil {
			t.Fatal(err)
		}
		if p == "pyvenv.cfg" {
			continue
		}
		sum := sha256.Sum256([]byte(body))
		r, _ := filepath.Rel("lib/site-packages", p)
		record.WriteString(r + ",sha256=" + base64.RawURLEncoding.EncodeToString(sum[:]) + "," + itoa(len(body)) + "\n")
	}
	record.WriteString("m-1.0.dist-info/RECORD,,\n")
	if err := os.WriteFile(filepath.Join(rel, "lib/site-packages/m-1.0.dist-info/RECORD"), []byte(record.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := sha256.Sum256([]byte(files["pyvenv.cfg"]))
	rc := &Receipt{Set: "s", Release: "r1", Created: time.Unix(1764133200, 0).UTC(), Lock: Lock{SHA256: strings.Repeat("a", 64)},
		Distributions: []Distribution{{Name: "m", Version: "1.0", Wheel: "m-1.0-py3-none-any.whl", SHA256: strings.Repeat("b", 64),
			DistInfo: "lib/site-packages/m-1.0.dist-info", Files: 5}},
		Environment: []EnvFile{{Path: "pyvenv.cfg", SHA256: hex.EncodeToString(cfg[:])}}}
	rep, err := Seal(rel, rc)
	if err != nil || !rep.Clean() {
		t.Fatalf("seal: %v %+v", err, rep)
	}
	if err := rc.Write(rel); err != nil {
		t.Fatal(err)
	}
	return rel, rc
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestSealAndVerify(t *testing.T) {
	rel, rc := release(t, t.TempDir())
	if rc.Schema != Schema || rc.Files != 6 || rc.SBOMSHA256 == "" || rc.Distributions[0].RecordSHA256 == "" {
		t.Fatalf("sealed receipt: %+v", rc)
	}
	if rc.Modes.File != "0644" || rc.Modes.Exec != "0755" || rc.Modes.Dir != "0755" || strings.Join(rc.Modes.Executables, " ") != "bin/m" || len(rc.Modes.Other) != 0 {
		t.Errorf("modes: %+v", rc.Modes)
	}
	rep, err := Verify(rel, Options{})
	if err != nil || !rep.Clean() || rep.Checked != 6 {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	// a mode changed is drift
	os.Chmod(filepath.Join(rel, "lib/site-packages/m.py"), 0o600)
	rep, _ = Verify(rel, Options{})
	if len(rep.Problems) != 1 || rep.Problems[0].Path != "lib/site-packages/m.py" || !strings.Contains(rep.Problems[0].Detail, "mode 0600, recorded 0644") {
		t.Errorf("chmod 600: %+v", rep.Problems)
	}
	// sealed so, it is recorded apart from its class
	if rep, err := Seal(rel, rc); err != nil || !rep.Clean() {
		t.Fatalf("seal: %v %+v", err, rep)
	}
	if err := rc.Write(rel); err != nil {
		t.Fatal(err)
	}
	if got := rc.Modes.Other["lib/site-packages/m.py"]; got != "0600" || len(rc.Modes.Other) != 1 {
		t.Errorf("other modes: %v", rc.Modes.Other)
	}
	if rep, err := Verify(rel, Options{}); err != nil || !rep.Clean() {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}

// FuzzVerify verifies a release whose receipt and RECORD are the fuzzer's:
// Verify never panics, fails only on a receipt of an unknown schema, and
// names only paths inside the release.
func FuzzVerify(f *testing.F) {
	dir := f.TempDir()
	rel, _ := release(f, dir)
	rcData, err := os.ReadFile(filepath.Join(rel, FileName))
	if err != nil {
		f.Fatal(err)
	}
	recData, err := os.ReadFile(filepath.Join(rel, "lib/site-packages/m-1.0.dist-info/RECORD"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(rcData, recData)
	f.Add([]byte(`{"schema":1,"release":"r1","distributions":[{"dist_info":"../../x.dist-info"}]}`), []byte("../../../etc/passwd,,\n"))
	f.Add([]byte(`{"schema":2,"release":"r1","modes":{"file":"9999","dir":"x"},"environment":[{"path":"/etc/passwd"}]}`), []byte("\"a,b\n"))
	f.Add([]byte(`{"schema":2,"release":"r1","modes":{"file":"0644","dir":"0755","other":{"x":"77777"}},"distributions":[{"dist_info":"lib/site-packages/m-1.0.dist-info","record_sha256":"00"}]}`), []byte("m.py,sha256=!!,-5\n"))
	f.Fuzz(func(t *testing.T, receiptData, record []byte) {
		if err := os.WriteFile(filepath.Join(rel, FileName), receiptData, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(rel, "lib/site-packages/m-1.0.dist-info/RECORD"), record, 0o644); err != nil {
			t.Fatal(err)
		}
		rep, err := Verify(rel, Options{})
		if err != nil {
			var se *SchemaError
			if !errors.As(err, &se) {
				t.Fatalf("verify: %v", err)
			}
			return
		}
		for _, p := range rep.Problems {
			if p.Path != "." && !filepath.IsLocal(filepath.FromSlash(p.Path)) {
				t.Fatalf("problem names %q, outside the release", p.Path)
			}
		}
	})
}

// TestReceiptWithBytecodeCounts: a receipt an earlier pipbake wrote, with
// the bytecode counts it no longer records ("bytecode": {"compiled",
// "cached"}), still reads and verifies; the field is dropped when the
// receipt is written again.
func TestReceiptWithBytecodeCounts(t *testing.T) {
	rel, _ := release(t, t.TempDir())
	data, err := os.ReadFile(filepath.Join(rel, FileName))
	if err != nil {
		t.Fatal(err)
	}
	old := strings.Replace(string(data), "\n  \"lock\": {", "\n  \"bytecode\": {\n    \"compiled\": 3,\n    \"cached\": 812\n  },\n  \"lock\": {", 1)
	if old == string(data) {
		t.Fatalf("no lock field to put the counts before:\n%s", data)
	}
	if err := os.WriteFile(filepath.Join(rel, FileName), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	rc, err := Read(rel)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := Verify(rel, Options{}); err != nil || !rep.Clean() {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	again, err := rc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(again), "bytecode") || string(again) != string(data) {
		t.Errorf("written again:\n%s\nwant:\n%s", again, data)
	}
}

// TestSealKnown: sealed with the sizes and modes an installer reports
// for its regular files, a release gets the same receipt as with a stat of
// each; what the report cannot hide is still found: a reported file that
// is a link on disk, a file nobody reported, a listed file missing. The
// reported sizes are what is compared (the stat is skipped).
func TestSealKnown(t *testing.T) {
	rel, rc := release(t, t.TempDir())
	known := map[string]Known{}
	filepath.WalkDir(rel, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			fi, _ := d.Info()
			r, _ := filepath.Rel(rel, p)
			known[filepath.ToSlash(r)] = Known{Size: fi.Size(), Mode: fi.Mode().Perm()}
		}
		return nil
	})
	want := *rc
	got := *rc
	if rep, err := SealKnown(rel, &got, known); err != nil || !rep.Clean() {
		t.Fatalf("seal with known files: %v %+v", err, rep)
	}
	if got.Files != want.Files || got.Modes.File != want.Modes.File || got.Modes.Exec != want.Modes.Exec || got.Modes.Dir != want.Modes.Dir ||
		strings.Join(got.Modes.Executables, " ") != strings.Join(want.Modes.Executables, " ") || len(got.Modes.Other) != len(want.Modes.Other) {
		t.Fatalf("sealed with known files: files %d, modes %+v; with stats: %d, %+v", got.Files, got.Modes, want.Files, want.Modes)
	}

	wrongSize := map[string]Known{}
	for k, v := range known {
		wrongSize[k] = v
	}
	wrongSize["lib/site-packages/m.py"] = Known{Size: 1, Mode: 0o644}
	if rep, _ := SealKnown(rel, &got, wrongSize); rep.Clean() || !strings.Contains(rep.Problems[0].Detail, "size 1") {
		t.Errorf("a reported size other than the RECORD's: %+v", rep.Problems)
	}

	// the installer reports a file that is a link on disk, and another
	// file appears: both found
	m := filepath.Join(rel, "lib/site-packages/m.py")
	os.Remove(m)
	os.Symlink("elsewhere", m)
	os.WriteFile(filepath.Join(rel, "lib/site-packages/extra.py"), []byte("x"), 0o644)
	rep, err := SealKnown(rel, &got, known)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, p := range rep.Problems {
		kinds = append(kinds, p.Kind+" "+p.Path)
	}
	if all := strings.Join(kinds, ", "); !strings.Contains(all, Modified+" lib/site-packages/m.py") || !strings.Contains(all, Unexpected+" lib/site-packages/extra.py") {
		t.Errorf("with a link for a reported file and an unreported file: %s", all)
	}
}
