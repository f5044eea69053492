package install

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/npm/npmtest"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
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
