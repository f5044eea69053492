package install

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// tree describes a release for comparison: every file's mode and content
// (root replaced by "@"), skipping what may legitimately differ between
// installers: bytecode, INSTALLER, and pipbake's receipt and SBOM. RECORD
// files are compared as sets of rows, without bytecode and INSTALLER rows.
func tree(t *testing.T, root, replace string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if d.Name() == "__pycache__" {
				return filepath.SkipDir
			}
			return nil
		}
		if rel == receipt.FileName || rel == receipt.SBOMName || strings.HasSuffix(rel, ".dist-info/INSTALLER") {
			return nil
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		desc := info.Mode().String()
		if info.Mode()&os.ModeSymlink != 0 {
			to, _ := os.Readlink(p)
			out[rel] = desc + " -> " + strings.ReplaceAll(to, replace, "@")
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasSuffix(rel, ".dist-info/RECORD") {
			rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
			if err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			var keep []string
			for _, r := range rows {
				if strings.HasSuffix(r[0], ".pyc") || strings.HasSuffix(r[0], ".dist-info/INSTALLER") {
					continue
				}
				keep = append(keep, strings.Join(r, ","))
			}
			sort.Strings(keep)
			data = []byte(strings.Join(keep, "\n"))
		}
		out[rel] = desc + "\n" + strings.ReplaceAll(string(data), replace, "@")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSameTreeAsPip installs the whole corpus (every distribution of the
// machine's Python 3.11, pip and setuptools among them, plus a C extension
// wheel) once natively and once with pip, and compares the trees. pip's
// wheelhouse is the same wheels as a tar archive (what the provisioner
// uploads), so the comparison also covers reading wheels inside one.
func TestSameTreeAsPip(t *testing.T) {
	if testing.Short() {
		t.Skip("installs the whole corpus twice")
	}
	py := corpustest.Python(t)
	set := corpustest.Set(t)
	cext, err := corpus.CExtension(context.Background(), py, filepath.Join(set.Dir, "..", "cext"))
	if err != nil {
		t.Fatal(err)
	}
	wheels := append(append([]corpus.Wheel(nil), set.Wheels...), cext)
	wh, lockPath := house(t, wheels)
	// both install at the same path (scripts name it), one after the other
	base := t.TempDir()
	root := filepath.Join(base, "root")
	roots := map[string]string{}
	houses := map[string]string{Native: wh, Pip: tarOf(t, wh)}
	for _, inst := range []string{Native, Pip} {
		_, err := Run(context.Background(), Set{Name: "all", Lock: lockPath, Python: py, Root: root, Installer: inst}, Options{Release: "r", Wheelhouse: houses[inst]})
		if err != nil {
			t.Fatalf("%s: %v", inst, err)
		}
		roots[inst] = filepath.Join(base, inst)
		if err := os.Rename(root, roots[inst]); err != nil {
			t.Fatal(err)
		}
	}
	orig := filepath.Join(root, "releases", "r")
	native := tree(t, filepath.Join(roots[Native], "releases", "r"), orig)
	pip := tree(t, filepath.Join(roots[Pip], "releases", "r"), orig)
	if len(native) < 10000 {
		t.Fatalf("only %d files installed", len(native))
	}
	diffs := 0
	for k, v := range pip {
		if native[k] != v {
			diffs++
			if diffs <= 10 {
				n := native[k]
				if len(n) > 300 {
					n = n[:300]
				}
				if len(v) > 300 {
					v = v[:300]
				}
				t.Errorf("%s differs:\npip:     %q\npipbake: %q", k, v, n)
			}
		}
	}
	for k := range native {
		if _, ok := pip[k]; !ok {
			diffs++
			if diffs <= 10 {
				t.Errorf("pipbake wrote %s, pip did not", k)
			}
		}
	}
	if diffs > 0 {
		t.Fatalf("%d differences", diffs)
	}
	// the C extension works from the native tree, moved back in place
	if err := os.Rename(roots[Native], root); err != nil {
		t.Fatal(err)
	}
	out := run(t, filepath.Join(root, "current", "bin", "python"), "-c", "import pipbake_cext; print(pipbake_cext.add(2, 3))")
	if strings.TrimSpace(out) != "5" {
		t.Errorf("C extension: %q", out)
	}
}

// tarOf writes the wheels of the folder dir into a tar archive under
// wheels/, as the provisioner's bundle holds them.
func tarOf(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bundle.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "wheels/" + e.Name(), Size: int64(len(data)), Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}
