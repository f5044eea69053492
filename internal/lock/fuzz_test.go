package lock

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/pipbake/packer-plugin-pipbake/internal/marker"
	"github.com/pipbake/packer-plugin-pipbake/internal/pep440"
)

// fuzzSeeds adds this package's test locks and the real-world locks of
// testdata/peer/locks whose name matches.
func fuzzSeeds(f *testing.F, match func(name string) bool) {
	var paths []string
	for _, pattern := range []string{"testdata/*", "../../testdata/peer/locks/*/*", "../../testdata/peer/locks/*/*/*", "../../testdata/peer/locks/*/*/*/*/*"} {
		m, _ := filepath.Glob(pattern)
		paths = append(paths, m...)
	}
	n := 0
	for _, p := range paths {
		if !match(filepath.Base(p)) {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			continue // a directory
		}
		// The start of each file: small seeds keep each run and the
		// fuzzer's minimizing (one run per byte removed) fast.
		if len(data) > 2048 {
			data = data[:bytes.LastIndexByte(data[:2048], '\n')+1]
		}
		f.Add(data)
		n++
	}
	if n == 0 {
		f.Fatal("no seed files found")
	}
}

// checkParse checks what holds for every lock file, valid or not, and
// returns the lock when it parsed.
func checkParse(t *testing.T, name string, data []byte) *Lock {
	lines := bytes.Count(data, []byte("\n")) + 1
	l, err := Parse(name, data)
	if err != nil {
		checkErrors(t, name, lines, err)
		return nil
	}
	if l.Path != name || l.SHA256 == "" {
		t.Fatalf("lock %+v", l)
	}
	if len(l.Warnings) > MaxProblems+1 {
		t.Fatalf("%d warnings", len(l.Warnings))
	}
	for _, p := range l.Pins {
		if _, err := pep440.Parse(p.Version); err != nil {
			t.Fatalf("pin %s with version %q: %v", p.Name, p.Version, err)
		}
		if len(p.SHA256()) == 0 || p.Line < 1 || p.Line > lines {
			t.Fatalf("pin %+v: no sha256 or line out of range", p)
		}
		if p.Marker != "" {
			if _, err := marker.Parse(p.Marker); err != nil {
				t.Fatalf("pin %s keeps an invalid marker: %v", p.Name, err)
			}
		}
	}
	for _, env := range []marker.Env{fuzzEnv, {}} {
		if _, err := l.ForEnv(env); err != nil {
			checkErrors(t, name, lines, err)
		}
	}
	return l
}

var fuzzEnv = marker.Env{
	"os_name": "posix", "sys_platform": "linux", "platform_machine": "x86_64",
	"platform_python_implementation": "CPython", "platform_release": "6.1.0", "platform_system": "Linux",
	"platform_version": "#1 SMP", "python_version": "3.11", "python_full_version": "3.11.7",
	"implementation_name": "cpython", "implementation_version": "3.11.7",
}

// checkErrors: every problem is a *Error naming the file and a line of it,
// at most MaxProblems and a count are reported, and messages are short.
func checkErrors(t *testing.T, name string, lines int, err error) {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	if len(list) > MaxProblems+1 {
		t.Fatalf("%d problems reported", len(list))
	}
	for _, e := range list {
		var le *Error
		if !errors.As(e, &le) {
			t.Fatalf("problem %v (%T) is no *lock.Error", e, e)
		}
		if le.File != name || le.Line < 0 || le.Line > lines {
			t.Fatalf("problem %q names %s:%d (the file has %d lines)", e, le.File, le.Line, lines)
		}
		if n := len(e.Error()); n > maxMessage+100 {
			t.Fatalf("message of %d bytes", n)
		}
	}
}

// samePins compares what a lock pins.
func samePins(t *testing.T, a, b []Pin) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d pins, then %d", len(a), len(b))
	}
	for i := range a {
		ma, mb := canonMarker(a[i].Marker), canonMarker(b[i].Marker)
		if a[i].Key() != b[i].Key() || a[i].Version != b[i].Version || ma != mb ||
			!slices.Equal(hashStrings(a[i].Hashes), hashStrings(b[i].Hashes)) {
			t.Fatalf("pin %d: %+v, then %+v", i, a[i], b[i])
		}
	}
}

func canonMarker(m string) string {
	if m == "" {
		return ""
	}
	e, err := marker.Parse(m)
	if err != nil {
		return "invalid: " + m
	}
	return e.String()
}

func hashStrings(hs []Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Algorithm + ":" + h.Hex
	}
	slices.Sort(out)
	return out
}

// FuzzRequirements: see checkParse; an accepted file's pins, written out
// again as a requirements file, parse back to the same pins.
func FuzzRequirements(f *testing.F) {
	fuzzSeeds(f, func(n string) bool { return strings.HasSuffix(n, ".txt") })
	f.Add([]byte("a==1 ; python_version < \"3.11\" \\\n  --hash=sha256:" + strings.Repeat("ab", 32) + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l := checkParse(t, "requirements.txt", data)
		if l == nil || len(l.Pins) == 0 {
			return
		}
		var b strings.Builder
		for _, p := range l.Pins {
			b.WriteString(p.Name + "==" + p.Version)
			if p.Marker != "" {
				b.WriteString(" ; " + canonMarker(p.Marker))
			}
			for _, h := range p.Hashes {
				b.WriteString(" \\\n    --hash=" + h.Algorithm + ":" + h.Hex)
			}
			b.WriteString("\n")
		}
		again, err := Parse("requirements.txt", []byte(b.String()))
		if err != nil {
			t.Fatalf("pins written out as\n%s\ndo not parse: %v", b.String(), err)
		}
		samePins(t, l.Pins, again.Pins)
	})
}

// FuzzPyLock: see checkParse; an accepted file's pins, written out again
// as a pylock.toml, parse back to the same pins.
func FuzzPyLock(f *testing.F) {
	fuzzSeeds(f, func(n string) bool { return strings.HasSuffix(n, ".toml") })
	f.Fuzz(func(t *testing.T, data []byte) {
		l := checkParse(t, "pylock.toml", data)
		if l == nil || len(l.Pins) == 0 {
			return
		}
		type wheel struct {
			Name   string            `toml:"name"`
			URL    string            `toml:"url,omitempty"`
			Path   string            `toml:"path,omitempty"`
			Size   int64             `toml:"size,omitempty"`
			Hashes map[string]string `toml:"hashes"`
		}
		type pkg struct {
			Name    string  `toml:"name"`
			Version string  `toml:"version"`
			Marker  string  `toml:"marker,omitempty"`
			Wheels  []wheel `toml:"wheels"`
		}
		doc := struct {
			LockVersion string `toml:"lock-version"`
			CreatedBy   string `toml:"created-by"`
			Packages    []pkg  `toml:"packages"`
		}{LockVersion: "1.0", CreatedBy: "fuzz"}
		for _, p := range l.Pins {
			out := pkg{Name: p.Name, Version: p.Version, Marker: p.Marker}
			for _, w := range p.Wheels {
				hs := map[string]string{}
				for _, h := range w.Hashes {
					hs[h.Algorithm] = h.Hex
				}
				out.Wheels = append(out.Wheels, wheel{Name: w.Name, URL: w.URL, Path: w.Path, Size: w.Size, Hashes: hs})
			}
			doc.Packages = append(doc.Packages, out)
		}
		var b bytes.Buffer
		if err := toml.NewEncoder(&b).Encode(doc); err != nil {
			t.Fatalf("encoding the pins: %v", err)
		}
		again, err := Parse("pylock.toml", b.Bytes())
		if err != nil {
			t.Fatalf("pins written out as\n%s\ndo not parse: %v", b.String(), err)
		}
		samePins(t, l.Pins, again.Pins)
		for i := range l.Pins {
			if fmt.Sprint(l.Pins[i].Wheels) != fmt.Sprint(again.Pins[i].Wheels) {
				t.Fatalf("wheels %v, then %v", l.Pins[i].Wheels, again.Pins[i].Wheels)
			}
		}
	})
}
