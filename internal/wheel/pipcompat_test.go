package wheel

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recordRow renders a RECORD row for content.
func recordRow(name, content string) string {
	sum := sha256.Sum256([]byte(content))
	return fmt.Sprintf("%s,sha256=%s,%d\n", name, base64.RawURLEncoding.EncodeToString(sum[:]), len(content))
}

// small is a minimal wheel's members, with WHEEL's body given.
func small(wheelFile string, extra ...member) []member {
	return append([]member{
		{name: "demo/__init__.py", body: "X = 1\n"},
		{name: "demo-1.0.dist-info/METADATA", body: "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"},
		{name: "demo-1.0.dist-info/WHEEL", body: wheelFile},
	}, extra...)
}

// TestWheelVersion: the specification refuses only a greater major
// Wheel-Version; an older one (pip's test wheels are 0.1) or a newer minor
// one installs, with a warning. A missing or malformed one is refused.
func TestWheelVersion(t *testing.T) {
	for _, c := range []struct {
		version, warn, refuse string
	}{
		{"1.0", "", ""},
		{"0.1", "Wheel-Version 0.1 is not 1.0", ""},
		{"1.9", "Wheel-Version 1.9 is not 1.0", ""},
		{"2.0", "", "Wheel-Version 2.0 is not supported"},
		{"", "", "has no Wheel-Version"},
		{"1", "", `Wheel-Version "1": want MAJOR.MINOR`},
		{"x.y", "", `Wheel-Version "x.y": want MAJOR.MINOR`},
	} {
		t.Run(c.version, func(t *testing.T) {
			dir := t.TempDir()
			body := "Root-Is-Purelib: true\n"
			if c.version != "" {
				body = "Wheel-Version: " + c.version + "\n" + body
			}
			p := buildWheel(t, dir, "demo-1.0-py3-none-any.whl", small(body), nil)
			w, err := Open(p)
			if c.refuse != "" {
				if err == nil || !strings.Contains(err.Error(), c.refuse) || !strings.Contains(err.Error(), "demo-1.0-py3-none-any.whl") {
					t.Fatalf("got %v, want an error naming the wheel with %q", err, c.refuse)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			got := strings.Join(w.Warnings, "\n")
			if (c.warn == "") != (got == "") || !strings.Contains(got, c.warn) {
				t.Errorf("warnings %q, want %q", got, c.warn)
			}
			if _, err := install(t, p, filepath.Join(dir, "env")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestScriptModeFromArchive: a .data/scripts file keeps the archive's
// mode, as pip and pypa/installer keep it: executable when the archive
// says so, a plain file otherwise (pip's test wheels ship .bat files).
func TestScriptModeFromArchive(t *testing.T) {
	dir := t.TempDir()
	p := buildWheel(t, dir, "demo-1.0-py3-none-any.whl", small("Wheel-Version: 1.0\nRoot-Is-Purelib: true\n",
		member{name: "demo-1.0.data/scripts/run.bat", body: "echo hi\r\n", mode: 0o644},
		member{name: "demo-1.0.data/scripts/plain-py", body: "#!python\nprint(1)\n", mode: 0o644},
		member{name: "demo-1.0.data/scripts/run", body: "#!/bin/sh\necho hi\n", mode: 0o755},
	), nil)
	root := filepath.Join(dir, "env")
	if _, err := install(t, p, root); err != nil {
		t.Fatal(err)
	}
	for name, exec := range map[string]bool{"run.bat": false, "plain-py": false, "run": true} {
		st, err := os.Stat(filepath.Join(root, "bin", name))
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode()&0o111 != 0; got != exec {
			t.Errorf("bin/%s: mode %v, want executable %v (the archive's)", name, st.Mode(), exec)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(root, "bin/plain-py")); !strings.HasPrefix(string(data), "#!"+filepath.Join(root, "bin/python")+"\n") {
		t.Errorf("#!python not rewritten: %q", data)
	}
}

// TestRecordAsPip: the installed RECORD keeps the wheel's rows as pip
// writes them: a hash without a size stays without one, a signature file
// RECORD does not list gets neither; a row for a file the archive lacks
// is accepted (pip and pypa/installer accept it) and left out, since
// nothing is installed for it. A RECORD holding its own hash is refused,
// as pypa/installer refuses it.
func TestRecordAsPip(t *testing.T) {
	const init = "X = 1\n"
	const meta = "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
	const wheelFile = "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"
	sized := recordRow("demo/__init__.py", init)
	unsized := strings.TrimSuffix(sized, "6\n") + "\n"
	ghost := recordRow("demo-1.0-1.dist-info/DESCRIPTION.rst", "text")
	for _, c := range []struct {
		name, record, want, refuse string
	}{
		{name: "hash without size", record: unsized, want: unsized},
		{name: "row for a missing file", record: sized + ghost, want: sized},
		{name: "self hash", record: sized + recordRow("demo-1.0.dist-info/RECORD", "x"), refuse: "RECORD lists a hash or size for itself"},
		{name: "self size", record: sized + "demo-1.0.dist-info/RECORD,,12\n", refuse: "RECORD lists a hash or size for itself"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			rec := c.record + recordRow("demo-1.0.dist-info/METADATA", meta) + recordRow("demo-1.0.dist-info/WHEEL", wheelFile)
			if !strings.Contains(rec, "RECORD,") {
				rec += "demo-1.0.dist-info/RECORD,,\n"
			}
			p := buildWheel(t, dir, "demo-1.0-py3-none-any.whl", []member{
				{name: "demo/__init__.py", body: init},
				{name: "demo-1.0.dist-info/METADATA", body: meta},
				{name: "demo-1.0.dist-info/WHEEL", body: wheelFile},
				{name: "demo-1.0.dist-info/RECORD.jws", body: "{}"},
				{name: "demo-1.0.dist-info/RECORD", body: rec},
			}, nil)
			root := filepath.Join(dir, "env")
			_, err := install(t, p, root)
			if c.refuse != "" {
				if err == nil || !strings.Contains(err.Error(), c.refuse) {
					t.Fatalf("got %v, want %q", err, c.refuse)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(root, "lib/python3.11/site-packages/demo-1.0.dist-info/RECORD"))
			if err != nil {
				t.Fatal(err)
			}
			for _, row := range []string{c.want, "demo-1.0.dist-info/RECORD.jws,,\n", "demo-1.0.dist-info/RECORD,,\n"} {
				if !strings.Contains(string(got), row) {
					t.Errorf("installed RECORD lacks %q:\n%s", row, got)
				}
			}
			if strings.Contains(string(got), "DESCRIPTION.rst") {
				t.Errorf("installed RECORD lists a file that was not installed:\n%s", got)
			}
		})
	}
}

// TestRequiresPython: a wheel whose Requires-Python excludes the
// interpreter is refused, naming the distribution, its Requires-Python
// and the interpreter's version; an unparseable Requires-Python is
// ignored with a warning, as pip ignores it.
func TestRequiresPython(t *testing.T) {
	for _, c := range []struct {
		spec    string
		version [3]int
		refuse  string
		warn    string
	}{
		{spec: ">=3.12", version: [3]int{3, 11, 7}, refuse: "demo 1.0 requires Python >=3.12 (METADATA Requires-Python), but the interpreter is Python 3.11.7"},
		{spec: ">=3.12", version: [3]int{3, 12, 0}},
		{spec: ">=2.7, !=3.0.*, !=3.1.*, <3.11", version: [3]int{3, 11, 0}, refuse: "requires Python >=2.7, !=3.0.*, !=3.1.*, <3.11"},
		{spec: "~=3.8", version: [3]int{3, 13, 1}},
		{spec: "", version: [3]int{3, 8, 0}},
		{spec: ">=3.6.*", version: [3]int{3, 8, 0}, warn: `Requires-Python ">=3.6.*" is not a valid specifier`},
	} {
		dir := t.TempDir()
		meta := "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
		if c.spec != "" {
			meta += "Requires-Python: " + c.spec + "\n"
		}
		p := buildWheel(t, dir, "demo-1.0-py3-none-any.whl", []member{
			{name: "demo/__init__.py", body: "X = 1\n"},
			{name: "demo-1.0.dist-info/METADATA", body: meta},
			{name: "demo-1.0.dist-info/WHEEL", body: "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"},
		}, nil)
		w, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		err = w.CheckPython(c.version)
		switch {
		case c.refuse == "" && err != nil:
			t.Errorf("%q on %v: %v", c.spec, c.version, err)
		case c.refuse != "" && (err == nil || !strings.Contains(err.Error(), c.refuse) || !strings.Contains(err.Error(), w.Name.File)):
			t.Errorf("%q on %v: got %v, want %q", c.spec, c.version, err, c.refuse)
		}
		if got := strings.Join(w.Warnings, "\n"); !strings.Contains(got, c.warn) || (c.warn == "") != (got == "") {
			t.Errorf("%q: warnings %q, want %q", c.spec, got, c.warn)
		}
		if w.Metadata.RequiresPython != c.spec {
			t.Errorf("Metadata.RequiresPython = %q", w.Metadata.RequiresPython)
		}
		w.Close()
	}
}
