package resolve

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/lock"
)

// FuzzParseRequirement: no input panics; a requirement that parses
// prints (with its marker) as one that parses to the same thing.
func FuzzParseRequirement(f *testing.F) {
	for _, s := range []string{
		"requests[socks,security] (>=2.31,<3) ; python_version >= \"3.8\"",
		"flask",
		"importlib-metadata>=3.6.0; python_version < \"3.10\"",
		"pywin32>=304; sys_platform == \"win32\"",
		"dep @ https://example.com/dep.whl",
		"name[", "name (>=1", "name ;", "a==1.*", "x===foo", "../local",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRequirement(s)
		if err != nil {
			return
		}
		text := r.String()
		if m := r.Marker.String(); m != "" {
			text += " ; " + m
		}
		again, err := ParseRequirement(text)
		if err != nil {
			t.Fatalf("%q parsed, but its rendering %q does not: %v", s, text, err)
		}
		if again.Key() != r.Key() || again.String() != r.String() || again.Marker.String() != r.Marker.String() {
			t.Fatalf("%q: %q then %q", s, text, again.String())
		}
	})
}

// FuzzRequirementsFile: no requirements file panics or hangs the reader;
// every requirement it returns says which line it came from, within the
// file.
func FuzzRequirementsFile(f *testing.F) {
	for _, s := range []string{
		"flask>=3\n# comment\nrequests[socks] \\\n  ==2.31 ; python_version > \"3\"\n",
		"-i https://pypi.org/simple\n--hash=sha256:00\nsix --hash=sha256:abc\n",
		"-e .\n./local.whl\ngit+https://x/y\n",
		"-r other.txt\n-c constraints.txt\n",
		"\ufeffa\r\nb\\\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.Contains(s, "/") && (strings.Contains(s, "-r") || strings.Contains(s, "-c")) {
			return // an include of a path outside the test's folder (say /proc/kmsg) is not the reader's input to judge
		}
		dir := t.TempDir()
		p := filepath.Join(dir, "requirements.in")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		rf, err := ReadRequirementsFile(p)
		if err != nil {
			return
		}
		lines := strings.Count(s, "\n") + 1
		for _, r := range append(rf.Requirements, rf.Constraints...) {
			file, line, ok := strings.Cut(r.From, ":")
			n, err := strconv.Atoi(line)
			if !ok || err != nil || n < 1 || n > lines || filepath.Dir(file) != dir {
				t.Fatalf("requirement %s from %q, in a file of %d lines", r, r.From, lines)
			}
		}
	})
}

// FuzzRequiresDist: whatever a wheel's Requires-Dist says, Resolve does
// not panic, and a lock it makes is written in both formats that
// pipbake's lock reader reads back to the same pins (a marker that would
// not survive the requirements syntax is refused, not written).
func FuzzRequiresDist(f *testing.F) {
	for _, s := range []string{
		`dep ; python_version < "3.8"`,
		`dep[x] >=1 ; extra == "web"`,
		`dep ; python_version == " --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000"`,
		`dep ; os_name == " #comment"`,
		`dep (<1)`,
		`dep ; sys_platform == "linux" or extra == "a"`,
	} {
		f.Add(s, "web")
	}
	f.Fuzz(func(t *testing.T, requires, extra string) {
		if strings.ContainsAny(requires, "\r\n") {
			return // one METADATA header
		}
		dir := t.TempDir()
		mkWheel(t, dir, spec{name: "app", version: "1", requires: []string{requires}})
		mkWheel(t, dir, spec{name: "dep", version: "1", extras: []string{"x"}, requires: []string{`sub ; extra == "x"`}})
		mkWheel(t, dir, spec{name: "sub", version: "2"})
		root := "app"
		if extra != "" {
			root += "[" + extra + "]"
		}
		r, err := ParseRequirement(root)
		if err != nil {
			return
		}
		r.From = "requirements.in:1"
		res, err := Resolve(Options{Dir: dir, Requirements: []Requirement{r}})
		if err != nil {
			return
		}
		var txt, toml bytes.Buffer
		if err := WritePyLock(&toml, res, dir, nil); err != nil {
			t.Fatal(err)
		}
		formats := map[string][]byte{"pylock.toml": toml.Bytes()}
		if err := WriteRequirements(&txt, res, nil); err == nil {
			formats["requirements.txt"] = txt.Bytes()
		} else if !strings.Contains(err.Error(), "cannot be written in a requirements file") {
			t.Fatal(err)
		}
		for name, data := range formats {
			lk, err := lock.Parse(name, data)
			if err != nil {
				t.Fatalf("%s of Requires-Dist %q does not read back: %v\n%s", name, requires, err, data)
			}
			if len(lk.Pins) != len(res.Packages) {
				t.Fatalf("%s: %d pins for %d packages\n%s", name, len(lk.Pins), len(res.Packages), data)
			}
			for i, p := range lk.Pins {
				w := res.Packages[i]
				if p.Key() != w.Key() || p.Version != w.Version || p.Marker != w.Marker || len(p.SHA256()) != 1 || p.SHA256()[0] != w.Wheels[0].SHA256 {
					t.Fatalf("%s: pin %+v, package %+v", name, p, w)
				}
			}
		}
	})
}
