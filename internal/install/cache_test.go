package install

import (
	"bytes"
	"compress/gzip"
	"time"

	"context"
	"github.com/pipbake/packer-plugin-pipbake/internal/layer"
	"github.com/pipbake/packer-plugin-pipbake/internal/rootfs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// TestReleaseCache installs Flask with a release cache, then installs the
// same release into a fresh copy of the root: it is restored (bytecode
// included), verifies, and has the same files and bytes.
func TestReleaseCache(t *testing.T) {
	py := corpustest.Python(t)
	wh, lockPath := house(t, flaskClosure(t))
	cache := filepath.Join(t.TempDir(), "cache")
	root := filepath.Join(t.TempDir(), "srv", "api")
	t.Setenv("SOURCE_DATE_EPOCH", "1764133200")
	var log bytes.Buffer
	set := Set{Name: "api", Lock: lockPath, Python: py, Root: root, Compile: true}
	opts := Options{Release: "r1", Wheelhouse: wh, Version: "test", ReleaseCache: cache, Log: &log}
	if _, err := Run(context.Background(), set, opts); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(cache); len(ents) != 1 || !strings.HasPrefix(ents[0].Name(), "api-") {
		t.Fatalf("cache holds %v", ents)
	}
	first := snapshot(t, filepath.Join(root, "releases", "r1"))
	os.RemoveAll(root)
	log.Reset()
	res, err := Run(context.Background(), set, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "restored release r1 from the release cache") {
		t.Fatalf("not restored:\n%s", log.String())
	}
	if res.Receipt == nil || res.Receipt.Set != "api" {
		t.Fatalf("result %+v", res)
	}
	second := snapshot(t, filepath.Join(root, "releases", "r1"))
	if first != second {
		t.Fatal("restored release differs from the installed one")
	}
	out := run(t, filepath.Join(root, "current", "bin", "flask"), "--version")
	if !strings.Contains(out, "Flask") {
		t.Fatal(out)
	}
	rep, err := receipt.Verify(filepath.Join(root, "current"), receipt.Options{})
	if err != nil || !rep.Clean() {
		t.Fatalf("verify: %v", err)
	}
	// The same release stored as a layer entry (as the OCI builder does):
	// a gzip layer tar holding api/releases/r1, hard-linked.
	layerCache := filepath.Join(t.TempDir(), "layers")
	blob := filepath.Join(t.TempDir(), "blob")
	writeLayer(t, blob, filepath.Dir(root), "api/releases/r1")
	rc1, _ := receipt.Read(filepath.Join(root, "releases", "r1"))
	key := KeyOfReceipt(rc1, root)
	if err := StoreLayerEntry(layerCache, key, blob, LayerEntry{Prefix: "api/releases/r1", Compression: "gzip"}); err != nil {
		t.Fatal(err)
	}
	if !HasEntry(layerCache, key) {
		t.Fatal("HasEntry: no")
	}
	os.RemoveAll(root)
	log.Reset()
	lopts := opts
	lopts.ReleaseCache = layerCache
	if _, err := Run(context.Background(), set, lopts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "restored release r1 from the release cache") {
		t.Fatalf("not restored from the layer entry:\n%s", log.String())
	}
	if third := snapshot(t, filepath.Join(root, "releases", "r1")); third != first {
		t.Fatal("the release restored from a layer differs")
	}
	run(t, filepath.Join(root, "current", "bin", "flask"), "--version")

	// Another release id is a different key: installed, not restored.
	log.Reset()
	opts.Release = "r2"
	if _, err := Run(context.Background(), set, opts); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "restored") {
		t.Fatal("r2 restored from r1's entry")
	}
	rc, _ := receipt.Read(filepath.Join(root, "releases", "r1"))
	if KeyOfReceipt(rc, root).String() != keyOfTest(t, cache, "r1") {
		t.Error("KeyOfReceipt does not match the key the agent stored under")
	}
}

// keyOfTest finds the cache entry whose receipt has release rel.
func keyOfTest(t *testing.T, cache, rel string) string {
	ents, _ := os.ReadDir(cache)
	for _, e := range ents {
		rc, err := receipt.Read(filepath.Join(cache, e.Name()))
		if err == nil && rc.Release == rel {
			return e.Name()
		}
	}
	t.Fatalf("no cache entry for %s", rel)
	return ""
}

// snapshot lists a tree's files with their sizes and modes.
func snapshot(t *testing.T, dir string) string {
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		b.WriteString(rel + " " + fi.Mode().String())
		if fi.Mode().IsRegular() {
			data, _ := os.ReadFile(p)
			b.WriteString(" " + string(rune(len(data))) + string(data[:min(len(data), 64)]))
		}
		b.WriteString("\n")
		return nil
	})
	return b.String()
}

// writeLayer writes the tree under base/rel as a gzip layer tar at blob,
// with names relative to base.
func writeLayer(t *testing.T, blob, base, rel string) {
	t.Helper()
	var changes []layer.Change
	filepath.Walk(filepath.Join(base, rel), func(p string, fi os.FileInfo, err error) error {
		r, _ := filepath.Rel(base, p)
		changes = append(changes, layer.Change{Path: filepath.ToSlash(r), Kind: layer.Write})
		return err
	})
	f, err := os.Create(blob)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	if err := layer.WriteTar(zw, rootfs.View{Dirs: []string{base}}, changes, time.Unix(1764133200, 0)); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	f.Close()
}
