//go:build !pipbake_agent

package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/install"
	"github.com/pipbake/packer-plugin-pipbake/internal/lock"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
	"github.com/pipbake/packer-plugin-pipbake/internal/resolve"
)

// TestLockHelp: -h says in one line what lock does, then its forms and an
// example.
func TestLockHelp(t *testing.T) {
	help, _, code := captured(t, "lock", "-h")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	first, _, _ := strings.Cut(help, "\n")
	if !strings.HasPrefix(first, "pipbake lock: ") {
		t.Errorf("first line %q", first)
	}
	for _, want := range []string{"Usage:", "pipbake lock --wheelhouse DIR", "--requirements FILE", "Example:", "pip wheel -r requirements.txt -w wheels && pipbake lock", "-format"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	_, stderr, code := captured(t, "lock")
	if code != 2 || !strings.Contains(stderr, "--wheelhouse") {
		t.Errorf("no flags: exit %d, %s", code, stderr)
	}
}

// TestLockErrorsNameTheFile: a bad requirements file is named with its
// line; a requirement the folder cannot meet names the folder.
func TestLockErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x-1.0-py3-none-any.whl"), []byte("not a zip"), 0o644)
	req := filepath.Join(t.TempDir(), "requirements.in")
	os.WriteFile(req, []byte("flask\n-e ./src\n"), 0o644)
	_, stderr, code := captured(t, "lock", "--wheelhouse", dir, "--requirements", req)
	if code != 1 || !strings.Contains(stderr, req+":2: editable requirement") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	os.WriteFile(req, []byte("flask>=3\n"), 0o644)
	_, stderr, code = captured(t, "lock", "--wheelhouse", dir, "--requirements", req)
	if code != 1 || !strings.Contains(stderr, "lock from wheelhouse "+dir) || !strings.Contains(stderr, "flask>=3 ("+req+":1): no wheel of flask") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	_, stderr, code = captured(t, "lock", "--wheelhouse", dir)
	if code != 1 || !strings.Contains(stderr, "x-1.0-py3-none-any.whl") {
		t.Errorf("a broken wheel: exit %d: %s", code, stderr)
	}
}

// TestLockInstalls: `pipbake lock` of a requirements file over the corpus
// of real wheels writes both formats; each reads back with pipbake's lock
// reader, is reproducible, and pipbake install installs it.
func TestLockInstalls(t *testing.T) {
	set := corpustest.Set(t)
	wheels := filepath.Join(set.Dir, "wheels")
	work := t.TempDir()
	req := filepath.Join(work, "requirements.in")
	os.WriteFile(req, []byte("# the app\nflask>=3\nrequests\n"), 0o644)
	want, err := set.Closure(context.Background(), "flask", "requests")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"requirements.txt", "pylock.toml"} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(work, name)
			_, stderr, code := captured(t, "lock", "--wheelhouse", wheels, "--requirements", req, "-o", out)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.Contains(stderr, "pinned ") {
				t.Errorf("stderr: %s", stderr)
			}
			first, _ := os.ReadFile(out)
			t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
			if _, stderr, code := captured(t, "lock", "--wheelhouse", wheels, "--requirements", req, "-o", out); code != 0 {
				t.Fatal(stderr)
			}
			again, _ := os.ReadFile(out)
			if !bytes.Equal(first, again) {
				t.Errorf("a second lock differs:\n%s\n---\n%s", first, again)
			}
			lk, err := lock.ParseFile(out)
			if err != nil {
				t.Fatalf("pipbake's lock reader: %v\n%s", err, first)
			}
			if wantFormat := lock.Requirements; name == "pylock.toml" {
				if lk.Format != lock.PyLock {
					t.Errorf("format %s", lk.Format)
				}
			} else if lk.Format != wantFormat {
				t.Errorf("format %s", lk.Format)
			}
			var got, pins []string
			for _, p := range lk.Pins {
				got = append(got, pyname.Normalize(p.Name)+"=="+p.Version)
			}
			for _, w := range want {
				pins = append(pins, pyname.Normalize(w.Name)+"=="+w.Version)
			}
			// colorama is pinned with its marker (click needs it on Windows
			// only); pip's closure on Linux leaves it out.
			got = slices.DeleteFunc(got, func(s string) bool { return strings.HasPrefix(s, "colorama==") })
			if !slices.Equal(got, pins) {
				t.Errorf("pins %q\n want %q", got, pins)
			}

			root := filepath.Join(t.TempDir(), "app")
			res, err := install.Run(context.Background(), install.Set{Name: "app", Lock: out, Python: set.Python, Root: root},
				install.Options{Wheelhouse: wheels, Release: "r1", Version: "test"})
			if err != nil {
				t.Fatalf("pipbake install of the lock: %v", err)
			}
			var installed []string
			for _, d := range res.Receipt.Distributions {
				installed = append(installed, pyname.Normalize(d.Name)+"=="+d.Version)
			}
			slices.Sort(installed)
			if !slices.Equal(installed, pins) {
				t.Errorf("installed %q\n want %q", installed, pins)
			}
			if _, err := os.Stat(filepath.Join(root, "current", "bin", "flask")); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestRenderLockNotes: a pylock written under another name than PEP 751's
// is noted (pipbake reads it by its content); standard output and a
// proper name are not; either format says how it was made.
func TestRenderLockNotes(t *testing.T) {
	for _, c := range []struct {
		output string
		f      resolve.Format
		note   bool
	}{
		{"out/lock.toml", resolve.PyLock, true},
		{"out/pylock.toml", resolve.PyLock, false},
		{"out/pylock.api.toml", resolve.PyLock, false},
		{"-", resolve.PyLock, false},
		{"out/requirements.txt", resolve.Requirements, false},
	} {
		data, notes, err := renderLock(&resolve.Result{}, c.f, "wheels", c.output, "--wheelhouse wheels")
		if err != nil {
			t.Fatalf("%s: %v", c.output, err)
		}
		if got := len(notes) == 1 && strings.Contains(notes[0], "PEP 751"); got != c.note || len(notes) > 1 {
			t.Errorf("%s as %s: notes %q", c.output, c.f, notes)
		}
		if !strings.Contains(string(data), "pipbake lock --wheelhouse wheels") {
			t.Errorf("%s: no header saying how it was made:\n%s", c.output, data)
		}
	}
}

// TestLockInputsNoProject: a requirements file that names no project
// (only constraints, say) is an error naming it; a constraints file adds
// its lines as constraints.
func TestLockInputsNoProject(t *testing.T) {
	dir := t.TempDir()
	only := filepath.Join(dir, "only-constraints.txt")
	cons := filepath.Join(dir, "constraints.txt")
	reqs := filepath.Join(dir, "requirements.txt")
	os.WriteFile(cons, []byte("flask<3\n"), 0o644)
	os.WriteFile(only, []byte("-c constraints.txt\n"), 0o644)
	os.WriteFile(reqs, []byte("flask\n"), 0o644)
	if _, _, err := lockInputs([]string{only}, nil); err == nil || !strings.Contains(err.Error(), only) || !strings.Contains(err.Error(), "names no project") {
		t.Errorf("only constraints: %v", err)
	}
	opts, _, err := lockInputs([]string{reqs}, []string{cons})
	if err != nil {
		t.Fatal(err)
	}
	if len(opts.Requirements) != 1 || len(opts.Constraints) != 1 {
		t.Errorf("requirements %v, constraints %v; want flask and flask<3", opts.Requirements, opts.Constraints)
	}
}
