package install

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/rootfs"
)

const toolSP = "lib/python3.11/site-packages"

// installedTool installs a release r1 of a built "tool" distribution (a
// package and a console script) and six, compiled, and returns its
// directory.
func installedTool(t *testing.T) string {
	t.Helper()
	py := corpustest.Python(t)
	six, _ := corpustest.Set(t).Get("six")
	dir := t.TempDir()
	tool := builtWheel(t, dir, "tool", fstest.MapFS{
		"pyproject.toml":           {Data: []byte("[project]\nname = \"tool\"\nversion = \"1.0\"\n\n[project.scripts]\ntool = \"tool.cli:main\"\n")},
		"src/tool/__init__.py":     {Data: []byte("VERSION = '1.0'\n")},
		"src/tool/cli.py":          {Data: []byte("def main():\n    print('tool')\n")},
		"src/tool/data/a.txt":      {Data: []byte("data\n")},
		"src/tool/data/b.json":     {Data: []byte("{}\n")},
		"src/tool/sub/__init__.py": {Data: []byte("")},
	})
	wh, lockPath := house(t, []corpus.Wheel{tool, six})
	root := filepath.Join(dir, "root")
	if _, err := Run(context.Background(), Set{Name: "tool", Lock: lockPath, Python: py, Root: root, Compile: true}, Options{Release: "r1", Wheelhouse: wh}); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "releases", "r1")
}

// copyRelease copies the release src into a fresh root (modes kept) and
// returns the copy's release directory.
func copyRelease(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "releases", "r1")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := rootfs.CopyTree(dst, src); err != nil {
		t.Fatal(err)
	}
	return dst
}

func recordHash(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256=" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// editRecord rewrites the RECORD rows of the tool distribution: edit gets
// each row and returns it changed (or "" to drop it); extra rows are added.
func editRecord(t *testing.T, rel string, edit func(row string) string, extra ...string) {
	t.Helper()
	p := filepath.Join(rel, toolSP, "tool-1.0.dist-info", "RECORD")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, row := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if row = edit(row); row != "" {
			out = append(out, row)
		}
	}
	out = append(out, extra...)
	if err := os.WriteFile(p, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// editJSON rewrites a JSON file of the release through a generic map.
func editJSON(t *testing.T, p string, edit func(m map[string]any)) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	data, err = json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantProblem verifies rel and checks it reports kind for path.
func wantProblem(t *testing.T, rel string, opts receipt.Options, path, kind string) *receipt.Report {
	t.Helper()
	rep, err := receipt.Verify(rel, opts)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	for _, p := range rep.Problems {
		if p.Path == path && p.Kind == kind {
			return rep
		}
	}
	t.Fatalf("verify: want %s %s, got: %s", kind, path, describe(rep.Problems))
	return rep
}

// TestVerifyAnchored: verify holds a release to its receipt, not only to
// its RECORDs: each way of changing a release so that its RECORDs still
// agree with its files is reported.
func TestVerifyAnchored(t *testing.T) {
	src := installedTool(t)
	recordPath := toolSP + "/tool-1.0.dist-info/RECORD"
	t.Run("intact", func(t *testing.T) {
		rel := copyRelease(t, src)
		rep, err := receipt.Verify(rel, receipt.Options{})
		if err != nil || !rep.Clean() {
			t.Fatalf("verify: %v %s", err, describe(rep.Problems))
		}
	})
	t.Run("file changed, RECORD row rewritten to match", func(t *testing.T) {
		rel := copyRelease(t, src)
		body := []byte("import os\nos.system('id')\n")
		if err := os.WriteFile(filepath.Join(rel, toolSP, "tool/__init__.py"), body, 0o644); err != nil {
			t.Fatal(err)
		}
		editRecord(t, rel, func(row string) string {
			if strings.HasPrefix(row, "tool/__init__.py,") {
				return "tool/__init__.py," + recordHash(body) + "," + itoa(len(body))
			}
			return row
		})
		wantProblem(t, rel, receipt.Options{}, recordPath, receipt.Modified)
	})
	t.Run("RECORD hash blanked", func(t *testing.T) {
		rel := copyRelease(t, src)
		p := filepath.Join(rel, toolSP, "tool/cli.py")
		old, _ := os.ReadFile(p)
		body := []byte(strings.Repeat("#", len(old)-1) + "\n") // same size
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
		editRecord(t, rel, func(row string) string {
			if strings.HasPrefix(row, "tool/cli.py,") {
				return "tool/cli.py,," + itoa(len(body))
			}
			return row
		})
		wantProblem(t, rel, receipt.Options{}, recordPath, receipt.Modified)
	})
	t.Run(".pth added with a RECORD row", func(t *testing.T) {
		rel := copyRelease(t, src)
		body := []byte("import os; os.system('id')\n")
		if err := os.WriteFile(filepath.Join(rel, toolSP, "zz-evil.pth"), body, 0o644); err != nil {
			t.Fatal(err)
		}
		editRecord(t, rel, func(row string) string { return row }, "zz-evil.pth,"+recordHash(body)+","+itoa(len(body)))
		wantProblem(t, rel, receipt.Options{}, recordPath, receipt.Modified)
	})
	t.Run("RECORD row dropped and its file removed", func(t *testing.T) {
		rel := copyRelease(t, src)
		if err := os.Remove(filepath.Join(rel, toolSP, "tool/data/a.txt")); err != nil {
			t.Fatal(err)
		}
		editRecord(t, rel, func(row string) string {
			if strings.HasPrefix(row, "tool/data/a.txt,") {
				return ""
			}
			return row
		})
		wantProblem(t, rel, receipt.Options{}, recordPath, receipt.Modified)
	})
	t.Run("receipt: a distribution's version edited", func(t *testing.T) {
		rel := copyRelease(t, src)
		editJSON(t, filepath.Join(rel, receipt.FileName), func(m map[string]any) {
			for _, d := range m["distributions"].([]any) {
				if d := d.(map[string]any); d["name"] == "six" {
					d["version"] = "9.9.9"
				}
			}
		})
		wantProblem(t, rel, receipt.Options{}, receipt.FileName, receipt.Modified)
	})
	t.Run("receipt: lock sha256 edited", func(t *testing.T) {
		rel := copyRelease(t, src)
		editJSON(t, filepath.Join(rel, receipt.FileName), func(m map[string]any) {
			m["lock"].(map[string]any)["sha256"] = strings.Repeat("0", 64)
		})
		wantProblem(t, rel, receipt.Options{}, receipt.FileName, receipt.Modified)
	})
	t.Run("SBOM: a component's version edited", func(t *testing.T) {
		rel := copyRelease(t, src)
		editJSON(t, filepath.Join(rel, receipt.SBOMName), func(m map[string]any) {
			for _, c := range m["components"].([]any) {
				if c := c.(map[string]any); c["name"] == "six" {
					c["version"] = "9.9.9"
				}
			}
		})
		wantProblem(t, rel, receipt.Options{}, receipt.SBOMName, receipt.Modified)
	})
	t.Run("SBOM removed", func(t *testing.T) {
		rel := copyRelease(t, src)
		os.Remove(filepath.Join(rel, receipt.SBOMName))
		wantProblem(t, rel, receipt.Options{}, receipt.SBOMName, receipt.Missing)
	})
	t.Run("setuid bit on a script", func(t *testing.T) {
		rel := copyRelease(t, src)
		if err := os.Chmod(filepath.Join(rel, "bin/tool"), 0o755|os.ModeSetuid); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, rel, receipt.Options{}, "bin/tool", receipt.Modified)
	})
	t.Run("execute bit on a module", func(t *testing.T) {
		rel := copyRelease(t, src)
		if err := os.Chmod(filepath.Join(rel, toolSP, "tool/cli.py"), 0o755); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, rel, receipt.Options{}, toolSP+"/tool/cli.py", receipt.Modified)
	})
	t.Run("world-writable package directory", func(t *testing.T) {
		rel := copyRelease(t, src)
		if err := os.Chmod(filepath.Join(rel, toolSP, "tool"), 0o777); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, rel, receipt.Options{}, toolSP+"/tool", receipt.Modified)
	})
	t.Run("compiled flag cleared to hide planted bytecode", func(t *testing.T) {
		rel := copyRelease(t, src)
		editJSON(t, filepath.Join(rel, receipt.FileName), func(m map[string]any) { m["compiled"] = false })
		os.WriteFile(filepath.Join(rel, toolSP, "tool/__pycache__/evil.cpython-311.pyc"), []byte("x"), 0o644)
		wantProblem(t, rel, receipt.Options{}, receipt.FileName, receipt.Modified)
	})
	t.Run("receipt sha256 recorded outside the release", func(t *testing.T) {
		rel := copyRelease(t, src)
		data, _ := os.ReadFile(filepath.Join(rel, receipt.FileName))
		sum := sha256.Sum256(data)
		good := hex.EncodeToString(sum[:])
		if rep, err := receipt.Verify(rel, receipt.Options{ReceiptSHA256: strings.ToUpper(good)}); err != nil || !rep.Clean() {
			t.Fatalf("verify with the right sha256: %v %s", err, describe(rep.Problems))
		}
		// a change the release cannot reveal by itself: only the outside
		// sha256 does (created is not checked against anything else)
		editJSON(t, filepath.Join(rel, receipt.FileName), func(m map[string]any) { m["pipbake"] = "evil" })
		rep := wantProblem(t, rel, receipt.Options{ReceiptSHA256: good}, receipt.FileName, receipt.Modified)
		if !strings.Contains(describe(rep.Problems), "recorded outside the release as "+good) {
			t.Errorf("detail: %s", describe(rep.Problems))
		}
		if _, err := receipt.Verify(rel, receipt.Options{ReceiptSHA256: "abc"}); err == nil {
			t.Error("a malformed sha256 is accepted")
		}
	})
	t.Run("schema 1 receipt", func(t *testing.T) {
		rel := copyRelease(t, src)
		editJSON(t, filepath.Join(rel, receipt.FileName), func(m map[string]any) {
			m["schema"] = 1
			delete(m, "modes")
			delete(m, "sbom_sha256")
		})
		wantProblem(t, rel, receipt.Options{}, receipt.FileName, receipt.Unanchored)
	})
	t.Run("receipt of an unknown schema", func(t *testing.T) {
		rel := copyRelease(t, src)
		editJSON(t, filepath.Join(rel, receipt.FileName), func(m map[string]any) { m["schema"] = 99 })
		if _, err := receipt.Verify(rel, receipt.Options{}); err == nil || !strings.Contains(err.Error(), "schema 99") {
			t.Fatalf("want a schema error, got %v", err)
		}
	})
	t.Run("receipt not JSON", func(t *testing.T) {
		rel := copyRelease(t, src)
		os.WriteFile(filepath.Join(rel, receipt.FileName), []byte("{"), 0o644)
		wantProblem(t, rel, receipt.Options{}, receipt.FileName, receipt.Modified)
	})
	t.Run("receipt names a dist-info outside the release", func(t *testing.T) {
		rel := copyRelease(t, src)
		editJSON(t, filepath.Join(rel, receipt.FileName), func(m map[string]any) {
			m["distributions"].([]any)[0].(map[string]any)["dist_info"] = "../../../../etc/x.dist-info"
		})
		wantProblem(t, rel, receipt.Options{}, receipt.FileName, receipt.Modified)
	})
	t.Run("receipt missing", func(t *testing.T) {
		rel := copyRelease(t, src)
		os.Remove(filepath.Join(rel, receipt.FileName))
		wantProblem(t, rel, receipt.Options{}, receipt.FileName, receipt.Missing)
	})
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
