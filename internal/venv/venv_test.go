package venv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/pythons"
)

// snapshot describes every entry of a tree: mode, and symlink target or
// content, with base replaced by a placeholder.
func snapshot(t *testing.T, root, base string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if strings.Contains(rel, "__pycache__") {
			return filepath.SkipDir
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		desc := info.Mode().String()
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			to, _ := os.Readlink(p)
			desc += " -> " + strings.ReplaceAll(to, base, "@")
		case info.Mode().IsRegular():
			data, _ := os.ReadFile(p)
			desc += "\n" + strings.ReplaceAll(string(data), base, "@")
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMatchesStdlibVenv creates an environment with the stdlib's
// `python -m venv --without-pip` and one with Create, for every interpreter
// on the machine, and compares them file by file.
func TestMatchesStdlibVenv(t *testing.T) {
	for _, py := range pythons.All(t) {
		t.Run(pythons.Label(py), func(t *testing.T) {
			tg, err := target.Probe(context.Background(), py)
			if err != nil {
				t.Fatal(err)
			}
			a, b := t.TempDir(), t.TempDir()
			cmd := exec.Command(tg.Executable, "-m", "venv", "--without-pip", filepath.Join(a, "env"))
			cmd.Env = target.CleanEnv(os.Environ())
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Skipf("stdlib venv unavailable for %s: %v\n%s", py, err, out)
			}
			env, err := Create(tg, filepath.Join(b, "env"), "")
			if err != nil {
				t.Fatal(err)
			}
			want := snapshot(t, filepath.Join(a, "env"), a)
			got := snapshot(t, filepath.Join(b, "env"), b)
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s differs:\nstdlib venv: %q\npipbake:     %q", k, v, got[k])
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("pipbake wrote %s, which the stdlib venv does not", k)
				}
			}
			// and it behaves as a venv
			run := exec.Command(filepath.Join(b, "env", "bin", "python"), "-c",
				"import sys, site; print(sys.prefix != sys.base_prefix, sys.prefix, any(p.endswith('site-packages') and p.startswith(sys.prefix) for p in sys.path))")
			run.Env = target.CleanEnv(os.Environ())
			out, err := run.Output()
			if err != nil {
				t.Fatal(err)
			}
			if want := "True " + filepath.Join(b, "env") + " True"; strings.TrimSpace(string(out)) != want {
				t.Fatalf("venv python says %q, want %q", out, want)
			}
			if env.Python != filepath.Join(b, "env", "bin", "python") {
				t.Errorf("Env.Python = %q", env.Python)
			}
		})
	}
}

func TestCreateAtFinalPath(t *testing.T) {
	py := pythons.All(t)[0]
	tg, err := target.Probe(context.Background(), py)
	if err != nil {
		t.Fatal(err)
	}
	staging := filepath.Join(t.TempDir(), ".staging")
	final := filepath.Join(t.TempDir(), "releases", "r1")
	env, err := Create(tg, staging, final)
	if err != nil {
		t.Fatal(err)
	}
	act, err := os.ReadFile(filepath.Join(staging, "bin", "activate"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(act), final) || strings.Contains(string(act), staging) {
		t.Errorf("activate should name the final path %s, not the staging one", final)
	}
	if !strings.HasPrefix(env.Scheme.Purelib, staging) {
		t.Errorf("scheme should point into the staging dir: %s", env.Scheme.Purelib)
	}
	if _, err := Create(tg, staging, "relative/path"); err == nil {
		t.Error("a relative final path was accepted")
	}
}
