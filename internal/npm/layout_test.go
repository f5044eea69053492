package npm

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/npmstore"
)

// TestSplitScripts: a package scripts_allow names runs its scripts (when
// it has any, native build or not); one it does not name fails the
// install when npm would build it with node-gyp, and is listed as not run
// otherwise.
func TestSplitScripts(t *testing.T) {
	pkg := func(name string) *Package { return &Package{Name: name, Version: "1.0.0"} }
	esbuild := &pkgScripts{pkg: pkg("esbuild"), scripts: map[string]string{"postinstall": "node install.js"}}
	allowedGyp := &pkgScripts{pkg: pkg("bcrypt"), gyp: true, scripts: map[string]string{"install": "node-gyp rebuild"}}
	allowedNone := &pkgScripts{pkg: pkg("quiet"), gyp: true}
	gyp := &pkgScripts{pkg: pkg("sharp"), gyp: true}
	other := &pkgScripts{pkg: pkg("husky"), scripts: map[string]string{"postinstall": "husky install"}}

	run, notRun, needBuild := splitScripts([]*pkgScripts{esbuild, allowedGyp, allowedNone, gyp, other}, []string{"esbuild", "bcrypt", "quiet"})
	if !reflect.DeepEqual(run, []*pkgScripts{esbuild, allowedGyp}) {
		t.Errorf("run: %v", run)
	}
	if !reflect.DeepEqual(notRun, []string{"husky@1.0.0"}) {
		t.Errorf("not run: %q", notRun)
	}
	if len(needBuild) != 1 || needBuild[0] != gyp.pkg {
		t.Errorf("need a build: %v", needBuild)
	}

	if run, notRun, needBuild := splitScripts(nil, []string{"esbuild"}); run != nil || notRun != nil || needBuild != nil {
		t.Errorf("no scripts: %v %v %v", run, notRun, needBuild)
	}
}

// TestUnknownAllowed: scripts_allow names that no installed package has
// are listed, in their order.
func TestUnknownAllowed(t *testing.T) {
	pkgs := []*Package{{Name: "esbuild"}, {Name: "@scope/tool"}}
	got := unknownAllowed(pkgs, []string{"typo-esbuild", "esbuild", "@scope/tool", "sharp"})
	if !reflect.DeepEqual(got, []string{"typo-esbuild", "sharp"}) {
		t.Errorf("got %q", got)
	}
}

// TestStoreRefusalsSaid: packages the npm store refuses are counted and
// the first refusal said, whatever the refusals' kinds (an atomic.Value
// holding the first panicked on a second error of another type); the
// install goes on.
func TestStoreRefusalsSaid(t *testing.T) {
	root := t.TempDir()
	st, err := npmstore.Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	makeJob := func(name, body string) *job {
		rel := "node_modules/" + name + "/index.js"
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		in, err := ParseIntegrity(SRI([]byte(name)))
		if err != nil {
			t.Fatal(err)
		}
		return &job{pkg: &Package{Name: name, Path: "node_modules/" + name, Integrity: in},
			out: &unpacked{files: []fileRec{{rel: rel, size: int64(len(body)), sum: sha256.Sum256([]byte(body)), mode: 0o644, perm: 0o644}}}}
	}
	// One changed after it was written, one gone: two kinds of error.
	changed, gone := makeJob("changed", "a"), makeJob("gone", "b")
	os.WriteFile(filepath.Join(root, "node_modules", "changed", "index.js"), []byte("not a"), 0o644)
	os.Remove(filepath.Join(root, "node_modules", "gone", "index.js"))
	kept := makeJob("kept", "c")
	for range 20 { // either order
		var log strings.Builder
		u := &unpacker{root: root}
		u.store(st, []*job{changed, gone, kept}, &log)
		if !strings.Contains(log.String(), "2 packages not stored: npm store: ") {
			t.Fatalf("log: %q", log.String())
		}
	}
	if _, ok := st.Has(kept.pkg.Integrity.String()); !ok {
		t.Error("the package the store took is not in it")
	}
}
