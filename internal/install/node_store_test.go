package install

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/npm/npmtest"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv"
)

// TestNodeSetNpmStore: the Express fixture installed with an empty npm
// store fills it; the next install lays every package out from it, with
// a tree and a receipt's files identical to the first and to an install
// without a store; a damaged store file is said, its package unpacked
// from its tarball again and the store repaired; a store that cannot be
// written to is only a warning.
func TestNodeSetNpmStore(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1764133200")
	f := npmtest.Get(t, "express")
	lockPath := filepath.Join(f.Project(t), "package-lock.json")
	tarballs := f.Folder(t)
	store := filepath.Join(t.TempDir(), "npm-store")
	install := func(root, id, storeDir string) (*Result, string) {
		t.Helper()
		var log strings.Builder
		res, err := Run(context.Background(), Set{Name: "web", Lock: lockPath, Node: f.Runtime.ExecPath, Root: root},
			Options{Release: id, Tarballs: tarballs, NpmStore: storeDir, Log: &log, Version: "test"})
		if err != nil {
			t.Fatalf("install %s: %v\n%s", id, err, log.String())
		}
		rep, err := receipt.Verify(res.Path, receipt.Options{})
		if err != nil || !rep.Clean() {
			t.Fatalf("verify %s: %v %s", id, err, describe(rep.Problems))
		}
		return res, log.String()
	}
	// the tree of a release without its receipt and SBOM (they name it)
	tree := func(res *Result) map[string]string {
		tr := fileTree(t, res.Path)
		delete(tr, receipt.FileName)
		delete(tr, receipt.SBOMName)
		return tr
	}
	plain, _ := install(filepath.Join(t.TempDir(), "plain"), "r1", "")
	if plain.NpmStore != nil {
		t.Fatalf("without a store: %+v", plain.NpmStore)
	}
	want := tree(plain)
	n := len(plain.Receipt.Distributions)

	root := filepath.Join(t.TempDir(), "web")
	cold, log := install(root, "r1", store)
	if c := cold.NpmStore; c == nil || c.Stored != 0 || c.Unpacked != n {
		t.Fatalf("cold: %+v, want %d unpacked", c, n)
	}
	if !strings.Contains(log, "npm packages: 0 from the npm store") {
		t.Errorf("the log does not count the store:\n%s", log)
	}
	sameFiles(t, "cold install and one without a store", want, tree(cold))
	warm, _ := install(root, "r2", store)
	if c := warm.NpmStore; c.Stored != n || c.Unpacked != 0 {
		t.Fatalf("warm: %+v, want all %d from the store", c, n)
	}
	sameFiles(t, "warm install and one without a store", want, tree(warm))
	if a, b := receiptFiles(t, plain), receiptFiles(t, warm); a != b {
		t.Fatal("the warm install's receipt lists other files than the plain one's")
	}
	if body := npmtest.ServeApp(t, f.Runtime.ExecPath, filepath.Join(root, "current"), "-e", npmtest.ExpressServer); !strings.HasPrefix(body, "hello from pipbake, express 4.") {
		t.Fatalf("the app from the store answered %q", body)
	}

	// damage one store file: that package comes from its tarball again
	var pkgs []string
	filepath.WalkDir(store, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".pkg") {
			pkgs = append(pkgs, p)
		}
		return nil
	})
	if len(pkgs) != n {
		t.Fatalf("%d store files for %d packages", len(pkgs), n)
	}
	data, _ := os.ReadFile(pkgs[0])
	data[len(data)/2] ^= 0x20
	os.WriteFile(pkgs[0], data, 0o644)
	again, log := install(root, "r3", store)
	if c := again.NpmStore; c.Stored != n-1 || c.Unpacked != 1 {
		t.Fatalf("with a damaged store file: %+v", c)
	}
	if !strings.Contains(log, "1 damaged packages ignored") {
		t.Errorf("the log does not say the store was damaged:\n%s", log)
	}
	sameFiles(t, "with a damaged store file", want, tree(again))
	if repaired, _ := install(root, "r4", store); repaired.NpmStore.Stored != n {
		t.Fatalf("the store was not repaired: %+v", repaired.NpmStore)
	}

	// a store that cannot be made: a warning
	res, log := install(filepath.Join(t.TempDir(), "ro-root"), "r1", "/proc/pipbake-no-such-store")
	if res.NpmStore != nil || !strings.Contains(log, "npm store not used") {
		t.Errorf("an impossible store: %+v\n%s", res.NpmStore, log)
	}
}

// receiptFiles renders a release's receipt's file list.
func receiptFiles(t *testing.T, res *Result) string {
	t.Helper()
	var b strings.Builder
	for _, f := range res.Receipt.Manifest {
		fmt.Fprintf(&b, "%+v\n", f)
	}
	if b.Len() == 0 {
		t.Fatal("the receipt lists no files")
	}
	return b.String()
}

// TestNodeSetNpmLink: with NpmLink, the packages the store holds are laid
// out as hard links to its copies of their files. The tree (paths, modes,
// bytes) and the receipt's files equal an install that writes them, and
// the app runs. Package files are links to store copies, but a program's
// file, made executable, is the release's own and the store's copy keeps
// its mode. A copy changed in place through one release is not linked
// again: the next install makes a new copy, and verify finds the change in
// the release that shared it. scripts_allow, or a store on another file
// system, writes the files instead, saying why.
func TestNodeSetNpmLink(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1764133200")
	f := npmtest.Get(t, "express")
	lockPath := filepath.Join(f.Project(t), "package-lock.json")
	tarballs := f.Folder(t)
	store := filepath.Join(t.TempDir(), "npm-store")
	install := func(set Set, id, storeDir string, link bool) (*Result, string) {
		t.Helper()
		set.Name, set.Lock, set.Node = "web", lockPath, f.Runtime.ExecPath
		var log strings.Builder
		res, err := Run(context.Background(), set, Options{Release: id, Tarballs: tarballs, NpmStore: storeDir, NpmLink: link, Log: &log, Version: "test"})
		if err != nil {
			t.Fatalf("install %s: %v\n%s", id, err, log.String())
		}
		return res, log.String()
	}
	tree := func(res *Result) map[string]string {
		tr := fileTree(t, res.Path)
		delete(tr, receipt.FileName)
		delete(tr, receipt.SBOMName)
		return tr
	}
	verify := func(res *Result) *receipt.Report {
		t.Helper()
		rep, err := receipt.Verify(res.Path, receipt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	plain, _ := install(Set{Root: filepath.Join(t.TempDir(), "plain")}, "r1", "", false)
	want := tree(plain)
	n := len(plain.Receipt.Distributions)

	root := filepath.Join(t.TempDir(), "web")
	cold, _ := install(Set{Root: root}, "r1", store, true)
	if c := cold.NpmStore; c.Unpacked != n || c.Linked != 0 {
		t.Fatalf("cold: %+v, want all %d unpacked", c, n)
	}
	linked, log := install(Set{Root: root}, "r2", store, true)
	if c := linked.NpmStore; c.Stored != n || c.Linked != n {
		t.Fatalf("linked: %+v, want all %d linked", c, n)
	}
	if !strings.Contains(log, fmt.Sprintf("(%d of them hard-linked)", n)) {
		t.Errorf("the log does not count the links:\n%s", log)
	}
	sameFiles(t, "linked install and one that writes", want, tree(linked))
	if a, b := receiptFiles(t, plain), receiptFiles(t, linked); a != b {
		t.Fatal("the linked install's receipt lists other files than the plain one's")
	}
	if rep := verify(linked); !rep.Clean() {
		t.Fatalf("verify the linked release: %s", describe(rep.Problems))
	}
	if body := npmtest.ServeApp(t, f.Runtime.ExecPath, filepath.Join(root, "current"), "-e", npmtest.ExpressServer); !strings.HasPrefix(body, "hello from pipbake, express 4.") {
		t.Fatalf("the linked app answered %q", body)
	}

	// Package files are links; programs' files are the release's own.
	links := func(rel string) uint64 {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(linked.Path, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		return uint64(fi.Sys().(*syscall.Stat_t).Nlink)
	}
	var programs, files []string
	for _, m := range linked.Receipt.Manifest {
		switch {
		case strings.HasPrefix(m.Path, "node_modules/.bin/"):
			to, err := filepath.EvalSymlinks(filepath.Join(linked.Path, filepath.FromSlash(m.Path)))
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(linked.Path, to)
			programs = append(programs, filepath.ToSlash(rel))
		case m.Link == "" && strings.HasPrefix(m.Path, "node_modules/") && m.Path != "node_modules/.package-lock.json":
			files = append(files, m.Path)
		}
	}
	if len(programs) == 0 {
		t.Fatal("the fixture has no programs to check")
	}
	unshared := 0
	for _, p := range files {
		if links(p) < 2 && !slices.Contains(programs, p) {
			unshared++
			if unshared <= 5 {
				t.Errorf("package file %s is not linked to the store", p)
			}
		}
	}
	if unshared > 0 {
		t.Errorf("%d of %d package files are not linked to the store", unshared, len(files))
	}
	for _, p := range programs {
		if n := links(p); n != 1 {
			t.Errorf("program %s has %d links: the store's copy was made executable", p, n)
		}
	}
	copies := 0
	filepath.WalkDir(filepath.Join(store, "files"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			copies++
			if fi, _ := d.Info(); fi.Mode().Perm()&0o111 != 0 && strings.HasSuffix(p, "-644") {
				t.Errorf("store copy %s is executable", p)
			}
		}
		return nil
	})
	if copies == 0 {
		t.Fatal("the store holds no copies")
	}

	// A file changed in place through the linked release.
	var changed string
	for _, m := range linked.Receipt.Manifest {
		if strings.HasPrefix(m.Path, "node_modules/express/") && strings.HasSuffix(m.Path, ".md") {
			changed = m.Path
			break
		}
	}
	if changed == "" {
		t.Fatal("no express/*.md file to change")
	}
	w, err := os.OpenFile(filepath.Join(linked.Path, filepath.FromSlash(changed)), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString("changed in place\n")
	w.Close()
	again, _ := install(Set{Root: root}, "r3", store, true)
	sameFiles(t, "linked after a copy was changed in place", want, tree(again))
	if rep := verify(again); !rep.Clean() {
		t.Fatalf("verify the release linked after the change: %s", describe(rep.Problems))
	}
	if rep := verify(linked); rep.Clean() || !strings.Contains(describe(rep.Problems), changed) {
		t.Fatalf("verify of the release changed in place: %s, want %s named", describe(rep.Problems), changed)
	}

	// scripts_allow: written, not linked.
	scripts, log := install(Set{Root: root, ScriptsAllow: []string{"express"}}, "r4", store, true)
	if c := scripts.NpmStore; c.Linked != 0 || c.Stored != n || !strings.Contains(log, "written, not linked") {
		t.Fatalf("with scripts_allow: %+v\n%s", c, log)
	}
	sameFiles(t, "with scripts_allow", want, tree(scripts))

	// A store on another file system: written, not linked.
	other, err := os.MkdirTemp("/dev/shm", "pipbake-npm-store-")
	if err != nil {
		testenv.Missing(t, "no /dev/shm for a store on another file system: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(other) })
	var a, b syscall.Stat_t
	syscall.Stat(other, &a)
	syscall.Stat(filepath.Dir(root), &b)
	if a.Dev == b.Dev {
		t.Logf("/dev/shm and %s are one file system: the cross-device case is not shown", root)
		return
	}
	install(Set{Root: filepath.Join(t.TempDir(), "fill")}, "r1", other, false)
	cross, log := install(Set{Root: root}, "r5", other, true)
	if c := cross.NpmStore; c.Linked != 0 || c.Stored != n || !strings.Contains(log, "cannot be linked") {
		t.Fatalf("a store on another file system: %+v\n%s", c, log)
	}
	sameFiles(t, "a store on another file system", want, tree(cross))
}
