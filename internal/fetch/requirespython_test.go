package fetch

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestRequiresPythonFromMetadata: the index says nothing of Requires-
// Python; the wheels' METADATA does. A pin whose only wheel needs another
// Python is an error at fetch time naming the package, the Requires-Python
// and the target's version; where another wheel fits, the one excluded is
// not chosen even though its tags rank higher, also from a warm cache.
// (Before, fetch took the wheels whatever their METADATA said.)
func TestRequiresPythonFromMetadata(t *testing.T) {
	only := mkwheel("demo-1.0-py3-none-any.whl", ">=3.12")
	t.Run("only wheel needs another Python", func(t *testing.T) {
		x := newFakeIndex(t, only)
		lk := writeLock(t, filepath.Join(t.TempDir(), "r.txt"), []string{"--index-url " + x.URL()}, pinOf("demo", "1.0", only))
		o := options(t, lk)
		_, err := Fetch(context.Background(), o)
		if !errors.Is(err, NoMatchingTags) {
			t.Fatalf("err = %v", err)
		}
		for _, want := range []string{"demo==1.0 (", "r.txt:2", "Requires-Python >=3.12", "Python 3.11.7", only.file} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%v", want, err)
			}
		}
	})
	t.Run("another wheel fits", func(t *testing.T) {
		linux := mkwheel(demoLinux.file, ">=3.12,<4")
		x := newFakeIndex(t, linux, demoAny)
		x.noHash = true // nothing declared: the bytes decide
		lk := writeLock(t, filepath.Join(t.TempDir(), "r.txt"), []string{"--index-url " + x.URL()}, pinOf("demo", "1.0", linux, demoAny))
		o := options(t, lk)
		res, err := Fetch(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if res.Wheels[0].File != demoAny.file || readIndex(t, o.Out).Wheels[0].SHA256 != demoAny.sha() {
			t.Fatalf("chose %+v", res.Wheels[0])
		}
		o.HTTPClient = &http.Client{Transport: failTransport{t}}
		o.Out = filepath.Join(t.TempDir(), "warm")
		if res, err = Fetch(context.Background(), o); err != nil || res.Wheels[0].File != demoAny.file || res.FromCache != 1 {
			t.Fatalf("warm: %v %+v", err, res)
		}
	})
	t.Run("a folder source", func(t *testing.T) {
		dir := t.TempDir()
		writeDists(t, filepath.Join(dir, "wheels"), only)
		lk := writeLock(t, filepath.Join(dir, "r.txt"), nil, pinOf("demo", "1.0", only))
		o := options(t, lk)
		o.Sources = []string{filepath.Join(dir, "wheels")}
		if _, err := Fetch(context.Background(), o); !errors.Is(err, NoMatchingTags) || !strings.Contains(err.Error(), "Requires-Python >=3.12") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestRequiresPythonFromJSONPage: a PEP 691 requires-python that excludes
// the target keeps the wheel from being downloaded at all.
func TestRequiresPythonFromJSONPage(t *testing.T) {
	x := newFakeIndex(t)
	x.fault = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path != "/simple/demo/" {
			return false
		}
		w.Header().Set("Content-Type", typeJSON)
		w.Write([]byte(`{"meta": {"api-version": "1.1"}, "name": "demo", "files": [
			{"filename": "` + demoLinux.file + `", "url": "/files/` + demoLinux.file + `", "hashes": {}, "requires-python": ">=3.12"},
			{"filename": "` + demoAny.file + `", "url": "/files/` + demoAny.file + `", "hashes": {}}]}`))
		return true
	}
	x.add(demoLinux)
	x.add(demoAny)
	lk := writeLock(t, filepath.Join(t.TempDir(), "r.txt"), []string{"--index-url " + x.URL()}, pinOf("demo", "1.0", demoLinux, demoAny))
	o := options(t, lk)
	res, err := Fetch(context.Background(), o)
	if err != nil || res.Wheels[0].File != demoAny.file {
		t.Fatalf("%v %+v", err, res)
	}
	if x.n("/files/"+demoLinux.file) != 0 {
		t.Fatal("the wheel the page excludes was downloaded")
	}
}

// TestNotAWheel: a file the lock allows that is no readable wheel is an
// error naming it (install could not use it either).
func TestNotAWheel(t *testing.T) {
	bogus := dist{file: demoAny.file, data: []byte("not a zip" + strings.Repeat(".", 100))}
	x := newFakeIndex(t, bogus)
	lk := writeLock(t, filepath.Join(t.TempDir(), "r.txt"), []string{"--index-url " + x.URL()}, pinOf("demo", "1.0", bogus))
	_, err := Fetch(context.Background(), options(t, lk))
	if !errors.Is(err, Failed) || !strings.Contains(err.Error(), demoAny.file) || !strings.Contains(err.Error(), "is not a readable wheel") {
		t.Fatalf("err = %v", err)
	}
}

func TestMetadataHeader(t *testing.T) {
	for in, want := range map[string]string{
		"Metadata-Version: 2.1\nName: x\nRequires-Python: >=3.8\n\nbody Requires-Python: <3": ">=3.8",
		"Name: x\r\nrequires-python:  >=3.8,\r\n  <4\r\n\r\n":                                ">=3.8, <4",
		"Name: x\nVersion: 1\n\nRequires-Python: >=3.12\n":                                   "",
		"Name: x\nRequires-Python: >=3.9\nRequires-Python: >=3.12\n":                         ">=3.9",
		"":                        "",
		"Requires-Python: ~=3.10": "~=3.10",
		"Description: a\n  Requires-Python: no\nRequires-Python: ==3.11.*\n": "==3.11.*",
	} {
		got, err := metadataHeader(strings.NewReader(in), "Requires-Python")
		if err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
}
