package fetch

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	pm "github.com/pipbake/packer-plugin-pipbake/internal/progress"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelhouse"
)

var (
	demoAny   = mkdist("demo-1.0-py3-none-any.whl")
	demoLinux = mkdist("demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
	demoWin   = mkdist("demo-1.0-cp311-cp311-win_amd64.whl")
	demoOld   = mkdist("demo-0.9-py3-none-any.whl")
	extra     = mkdist("extra_pkg-2.0-py2.py3-none-any.whl")
)

// TestFromFolderSeveralLocks fetches two locks sharing a pin from a
// folder: one wheelhouse, the shared pin once, the best wheel for the
// target, and a wheelhouse.json that install's wheelhouse reads.
func TestFromFolderSeveralLocks(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "wheels")
	writeDists(t, src, demoAny, demoLinux, demoWin, demoOld, extra)
	a := writeLock(t, filepath.Join(dir, "a.txt"), nil, pinOf("demo", "1.0", demoAny, demoLinux, demoWin))
	b := writeLock(t, filepath.Join(dir, "b.txt"), nil, pinOf("Demo", "1.0.0", demoAny, demoLinux), pinOf("extra-pkg", "2.0", extra))
	o := options(t, a, b)
	o.Sources = []string{src}
	res, err := Fetch(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Downloaded != 2 || res.FromCache != 0 || len(res.Wheels) != 2 {
		t.Fatalf("result: %+v", res)
	}
	idx := readIndex(t, o.Out)
	if idx.Schema != 1 || len(idx.Wheels) != 2 {
		t.Fatalf("index: %+v", idx)
	}
	demo := idx.Wheels[0]
	if demo.File != demoLinux.file || demo.SHA256 != demoLinux.sha() || demo.Size != int64(len(demoLinux.data)) || demo.Source != filepath.Join(src, demoLinux.file) {
		t.Fatalf("demo entry: %+v", demo)
	}
	if got := res.Wheels[0].Pins; !slices.Equal(got, []string{a.Path + ":1", b.Path + ":1"}) {
		t.Fatalf("pins of demo: %v", got)
	}
	entries, _ := os.ReadDir(o.Out)
	if len(entries) != 3 {
		t.Fatalf("out has %d entries", len(entries))
	}
	// install's wheelhouse takes it as it is
	house, err := wheelhouse.Open(o.Out)
	if err != nil {
		t.Fatal(err)
	}
	pins, _ := b.ForEnv(o.Env)
	choices, err := house.Choose(pins, o.Tags)
	if err != nil || len(choices) != 2 || choices[0].SHA256 != demoLinux.sha() {
		t.Fatalf("choose: %v %+v", err, choices)
	}
	// nothing left behind beside out or in the cache's tmp
	siblings, _ := os.ReadDir(filepath.Dir(o.Out))
	if len(siblings) != 2 { // out and cache
		t.Fatalf("left beside out: %v", siblings)
	}
	if tmp, _ := os.ReadDir(filepath.Join(o.Cache, "tmp")); len(tmp) != 0 {
		t.Fatalf("left in cache tmp: %v", tmp)
	}
}

// TestWarmCacheReadsNoNetwork fetches from an index, then again with a
// client that fails every request, and again into an existing output.
func TestWarmCacheReadsNoNetwork(t *testing.T) {
	x := newFakeIndex(t, demoAny, demoLinux, extra)
	dir := t.TempDir()
	lk := writeLock(t, filepath.Join(dir, "r.txt"), []string{"--index-url " + x.URL()},
		pinOf("demo", "1.0", demoAny, demoLinux), pinOf("extra-pkg", "2.0", extra))
	o := options(t, lk)
	if _, err := Fetch(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	before := len(x.Requests())
	if before != 4 { // two pages, two files
		t.Fatalf("cold fetch made %d requests: %v", before, x.Requests())
	}
	first := snapshot(t, o.Out)
	o.HTTPClient = &http.Client{Transport: failTransport{t}}
	o.Out = filepath.Join(dir, "second")
	res, err := Fetch(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.FromCache != 2 || res.Downloaded != 0 {
		t.Fatalf("warm: %+v", res)
	}
	if snapshot(t, o.Out) != first {
		t.Fatalf("warm output differs:\n%s\n%s", first, snapshot(t, o.Out))
	}
	// And over an earlier fetch's output.
	if _, err := Fetch(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if len(x.Requests()) != before {
		t.Fatalf("warm fetch made requests: %v", x.Requests()[before:])
	}
}

// TestCacheDamageIsRepaired: a cached file whose bytes changed is never
// used; it is fetched again.
func TestCacheDamageIsRepaired(t *testing.T) {
	x := newFakeIndex(t, demoAny)
	dir := t.TempDir()
	lk := writeLock(t, filepath.Join(dir, "r.txt"), []string{"--index-url " + x.URL()}, pinOf("demo", "1.0", demoAny))
	o := options(t, lk)
	if _, err := Fetch(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(o.Cache, "sha256", demoAny.sha()[:2], demoAny.sha())
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, []byte("rot"), 0o644); err != nil {
		t.Fatal(err)
	}
	o.Out = filepath.Join(dir, "again")
	res, err := Fetch(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Downloaded != 1 {
		t.Fatalf("damaged cache entry was used: %+v", res)
	}
	if got, _, _ := wheelhouse.HashFile(filepath.Join(o.Out, demoAny.file)); got != demoAny.sha() {
		t.Fatalf("output has sha256 %s", got)
	}
}

// TestSecondSourceAndOrder: sources are tried in order; a project
// missing from the first comes from the second; the first that has a
// fitting wheel wins.
func TestSecondSourceAndOrder(t *testing.T) {
	dir := t.TempDir()
	first := newFakeIndex(t, extra)
	second := filepath.Join(dir, "wheels")
	writeDists(t, second, demoAny, extra)
	lk := writeLock(t, filepath.Join(dir, "r.txt"), nil, pinOf("demo", "1.0", demoAny), pinOf("extra-pkg", "2.0", extra))
	o := options(t, lk)
	o.Sources = []string{first.URL(), second}
	var log logBuffer
	o.Log = &log
	if _, err := Fetch(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	idx := readIndex(t, o.Out)
	if !strings.HasPrefix(idx.Wheels[0].Source, second) || !strings.HasPrefix(idx.Wheels[1].Source, first.srv.URL) {
		t.Fatalf("sources: %+v", idx.Wheels)
	}
	if log.Len() != 0 {
		t.Fatalf("log: %s", log.String())
	}
}

// TestIndexHashesFilterCandidates: as pip does, when the index declares
// hashes, a file whose hash the lock does not allow is not chosen even if
// its tags rank higher; and when the lock allows none of them, that is a
// hash mismatch naming the files.
func TestIndexHashesFilterCandidates(t *testing.T) {
	x := newFakeIndex(t, demoAny, demoLinux)
	dir := t.TempDir()
	lk := writeLock(t, filepath.Join(dir, "r.txt"), []string{"--index-url " + x.URL()}, pinOf("demo", "1.0", demoAny))
	o := options(t, lk)
	if _, err := Fetch(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if got := readIndex(t, o.Out).Wheels[0].File; got != demoAny.file {
		t.Fatalf("chose %s", got)
	}
	lk = writeLock(t, filepath.Join(dir, "r2.txt"), []string{"--index-url " + x.URL()}, pinOf("demo", "1.0", demoOld))
	o = options(t, lk)
	_, err := Fetch(context.Background(), o)
	if !errors.Is(err, HashMismatch) || !strings.Contains(err.Error(), demoLinux.file+" with sha256 "+demoLinux.sha()) ||
		!strings.Contains(err.Error(), "r2.txt:2") {
		t.Fatalf("err = %v", err)
	}
}

// TestRequiresPython: a wheel whose data-requires-python excludes the
// target is not chosen.
func TestRequiresPython(t *testing.T) {
	l, err := parseHTML([]byte(`<a href="demo-1.0-py3-none-any.whl" data-requires-python="&gt;=3.12">x</a>`), mustURL("http://h/simple/demo/"))
	if err != nil || len(l) != 1 || l[0].requiresPython != ">=3.12" {
		t.Fatalf("%v %+v", err, l)
	}
	o := options(t)
	f := &fetcher{opts: o}
	j := &job{name: "demo", version: "1.0", allowed: []string{demoAny.sha()}}
	_, kind, why := f.choose(j, l)
	if kind != NoMatchingTags || !strings.Contains(why, "Requires-Python >=3.12") || !strings.Contains(why, "3.11.7") {
		t.Fatalf("%s: %s", kind, why)
	}
}

// TestLockFindLinksAndNoIndex: a requirements lock's --find-links (a page
// of links, or a folder relative to the lock) with --no-index are its
// sources; without any, the default index is PyPI.
func TestLockFindLinksAndNoIndex(t *testing.T) {
	x := newFakeIndex(t, demoAny)
	x.fault = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path == "/links.html" {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(`<html><body><a href="files/` + demoAny.file + `#sha256=` + demoAny.sha() + `">` + demoAny.file + `</a></body></html>`))
			return true
		}
		return false
	}
	dir := t.TempDir()
	writeDists(t, filepath.Join(dir, "local"), extra)
	lk := writeLock(t, filepath.Join(dir, "r.txt"), []string{"--no-index", "--find-links " + x.srv.URL + "/links.html", "-f ./local"},
		pinOf("demo", "1.0", demoAny), pinOf("extra-pkg", "2.0", extra))
	o := options(t, lk)
	res, err := Fetch(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Wheels[0].Source != x.srv.URL+"/files/"+demoAny.file || res.Wheels[1].Source != filepath.Join(dir, "local", extra.file) {
		t.Fatalf("sources: %+v", res.Wheels)
	}
	if got := strings.Join(x.Requests(), " "); got != "/links.html /files/"+demoAny.file {
		t.Fatalf("requests: %s", got)
	}

	f := &fetcher{opts: o, red: &redactor{}}
	f.creds = newCredentials(f.red)
	srcs, err := f.lockSources(writeLock(t, filepath.Join(dir, "plain.txt"), nil, pinOf("demo", "1.0", demoAny)))
	if err != nil || len(srcs) != 1 || srcs[0].String() != DefaultIndex {
		t.Fatalf("default sources: %v %v", srcs, err)
	}
	if _, err := f.lockSources(writeLock(t, filepath.Join(dir, "none.txt"), []string{"--no-index"}, pinOf("demo", "1.0", demoAny))); err == nil ||
		!strings.Contains(err.Error(), "no place to fetch from") {
		t.Fatalf("no sources: %v", err)
	}
}

// TestProgress shows a slow fetch's progress: on a terminal a bar redrawn
// in place and ended with a newline; elsewhere (Packer, CI) plain lines
// without carriage returns; a fast fetch shows nothing.
func TestProgress(t *testing.T) {
	x := newFakeIndex(t, demoAny, extra)
	x.fault = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if strings.HasPrefix(r.URL.Path, "/files/") {
			time.Sleep(700 * time.Millisecond) // two in a row: over the 1s delay
		}
		return false
	}
	dir := t.TempDir()
	lk := writeLock(t, filepath.Join(dir, "r.txt"), nil, pinOf("demo", "1.0", demoAny), pinOf("extra-pkg", "2.0", extra))
	run := func(t *testing.T, mode string, sources []string) string {
		t.Setenv(pm.EnvMode, mode)
		o := options(t, lk)
		o.Sources, o.Jobs = sources, 1
		var prog logBuffer
		o.Progress = &prog
		if _, err := Fetch(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		return prog.String()
	}
	t.Run("terminal", func(t *testing.T) {
		got := run(t, "terminal", []string{x.URL()})
		if !strings.Contains(got, "\rfetch [########################]  2/2 wheels") || !strings.HasSuffix(got, "\x1b[K\n") {
			t.Fatalf("progress: %q", got)
		}
	})
	t.Run("lines", func(t *testing.T) {
		got := run(t, "lines", []string{x.URL()})
		if strings.ContainsAny(got, "\r\x1b") || !strings.Contains(got, "fetch: done, 2/2 wheels, ") {
			t.Fatalf("progress: %q", got)
		}
	})
	t.Run("fast", func(t *testing.T) {
		src := t.TempDir()
		writeDists(t, src, demoAny, extra)
		if got := run(t, "terminal", []string{src}); got != "" {
			t.Fatalf("a fast fetch drew %q", got)
		}
	})
}
