//go:build !pipbake_agent && linux

package cli

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// planEnv is a two-set plan's world: a wheelhouse (six for set s1, idna
// for s2), release roots, a receipts folder and a system root for units
// and users.
type planEnv struct {
	dir, py, roots, receipts, sysroot string
}

func newPlanEnv(t *testing.T) *planEnv {
	t.Helper()
	py := corpustest.Python(t)
	set := corpustest.Set(t)
	e := &planEnv{dir: t.TempDir(), py: py}
	e.roots = filepath.Join(e.dir, "srv")
	e.receipts = filepath.Join(e.dir, "receipts")
	e.sysroot = filepath.Join(e.dir, "sysroot")
	wh := filepath.Join(e.dir, "wheels")
	os.MkdirAll(wh, 0o755)
	for i, name := range []string{"six", "idna"} {
		w, ok := set.Get(name)
		if !ok {
			t.Fatalf("%s is not in the corpus", name)
		}
		os.Symlink(w.Path, filepath.Join(wh, w.File))
		if err := corpus.WriteRequirements(filepath.Join(e.dir, fmt.Sprintf("s%d.txt", i+1)), []corpus.Wheel{w}); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(e.sysroot, "etc"), 0o755)
	for _, f := range []string{"passwd", "group", "shadow", "gshadow"} {
		data, _ := os.ReadFile("/etc/" + f)
		os.WriteFile(filepath.Join(e.sysroot, "etc", f), data, 0o600)
	}
	return e
}

// plan writes a plan of sets s1 and s2 with keep; services maps a set to
// its service block's body (none when absent).
func (e *planEnv) plan(t *testing.T, keep int, services map[string]string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("wheelhouse = \"wheels\"\n")
	for _, s := range []string{"s1", "s2"} {
		fmt.Fprintf(&b, "set {\n  name = %q\n  lock = \"%s.txt\"\n  root = \"%s/%s\"\n  python = %q\n  keep = %d\n  compile = false\n", s, s, e.roots, s, e.py, keep)
		if body, ok := services[s]; ok {
			fmt.Fprintf(&b, "  service {\n    command = \"python -c pass\"\n%s  }\n", body)
		}
		b.WriteString("}\n")
	}
	p := filepath.Join(e.dir, fmt.Sprintf("plan-%d.hcl", len(services)*10+keep))
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *planEnv) install(t *testing.T, plan, release string) (int, error) {
	t.Helper()
	_, code, err := pipbake(t, "install", "-f", plan, "--release", release, "--receipts-dir", e.receipts, "--system-root", e.sysroot, "--quiet")
	return code, err
}

func (e *planEnv) mustInstall(t *testing.T, plan, release string) {
	t.Helper()
	if code, err := e.install(t, plan, release); code != 0 {
		t.Fatalf("install %s: exit %d: %v", release, code, err)
	}
}

// snapshot describes everything an install may change: each root's
// entries and current link, the receipts folder and the system root.
func (e *planEnv) snapshot(t *testing.T) string {
	t.Helper()
	var lines []string
	for _, dir := range []string{e.roots, e.receipts, e.sysroot} {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			rel, _ := filepath.Rel(e.dir, p)
			// inside a release only its receipt matters here
			if parts := strings.Split(rel, string(filepath.Separator)); len(parts) > 4 && parts[2] == "releases" && d.Name() != receipt.FileName {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			// useradd and userdel leave their lock file and backups
			// (passwd-): the databases themselves are compared
			if filepath.Dir(p) == filepath.Join(e.sysroot, "etc") && (d.Name() == ".pwd.lock" || strings.HasSuffix(d.Name(), "-")) {
				return nil
			}
			switch {
			case d.Type()&fs.ModeSymlink != 0:
				to, _ := os.Readlink(p)
				lines = append(lines, rel+" -> "+to)
			case d.Type().IsRegular():
				data, _ := os.ReadFile(p)
				lines = append(lines, fmt.Sprintf("%s %x", rel, sha256.Sum256(data)))
			case d.IsDir():
				lines = append(lines, rel+"/")
			}
			return nil
		})
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// immutable makes p immutable (chattr +i) until the returned func or the
// test's end: even root cannot change it, or an entry of a folder.
func immutable(t *testing.T, p string) func() {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for chattr +i")
	}
	if out, err := exec.Command("chattr", "+i", p).CombinedOutput(); err != nil {
		t.Skipf("chattr +i %s: %v %s", p, err, out)
	}
	undo := func() { exec.Command("chattr", "-i", p).Run() }
	t.Cleanup(undo)
	return undo
}

// changedUnit is a service body whose unit differs from the one before:
// a failure must put the old unit back.
const changedUnit = "    environment = { MODE = \"new\" }\n"

// TestPlanFailureChangesNothing installs a two-set plan with a fault at
// each step after staging: the install fails, and every root, the
// receipts folder and the system root are as they were; without the
// fault the same install then succeeds.
func TestPlanFailureChangesNothing(t *testing.T) {
	cases := []struct {
		name string
		// base installs the releases before; attempt is the plan that fails
		keep  int
		base  map[string]string
		try   map[string]string
		fault func(e *planEnv) string
		want  string
	}{
		{name: "receipts folder unwritable", keep: 5,
			base:  map[string]string{"s1": ""},
			try:   map[string]string{"s1": ""},
			fault: func(e *planEnv) string { return e.receipts },
			want:  "receipts"},
		{name: "unit folder unwritable", keep: 5,
			base:  map[string]string{"s1": "", "s2": ""},
			try:   map[string]string{"s1": "", "s2": ""},
			fault: func(e *planEnv) string { return filepath.Join(e.sysroot, "etc/systemd/system") },
			want:  "service s1"},
		{name: "user creation failing", keep: 5,
			base:  map[string]string{"s1": ""},
			try:   map[string]string{"s1": changedUnit, "s2": "    user = \"pipbake-fault-s2\"\n"},
			fault: func(e *planEnv) string { return filepath.Join(e.sysroot, "etc/passwd") },
			want:  "create user pipbake-fault-s2"},
		// keep 1: release 1, not current, is set aside before the switch
		{name: "prune failing", keep: 1,
			base:  map[string]string{"s1": ""},
			try:   map[string]string{"s1": changedUnit, "s2": "    user = \"pipbake-fault-s2\"\n"},
			fault: func(e *planEnv) string { return filepath.Join(e.roots, "s2/releases/1") },
			want:  "releases/1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newPlanEnv(t)
			base := e.plan(t, 5, c.base)
			e.mustInstall(t, base, "1")
			e.mustInstall(t, base, "2")
			before := e.snapshot(t)
			try := e.plan(t, c.keep, c.try)
			undo := immutable(t, c.fault(e))
			code, err := e.install(t, try, "3")
			undo()
			if code != 1 || err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want exit 1 and an error naming %q, got exit %d: %v", c.want, code, err)
			}
			if after := e.snapshot(t); after != before {
				t.Fatalf("the failed install changed things:\n--- before\n%s\n--- after\n%s", before, after)
			}
			e.mustInstall(t, try, "3")
			for _, s := range []string{"s1", "s2"} {
				if to, _ := os.Readlink(filepath.Join(e.roots, s, "current")); to != "releases/3" {
					t.Errorf("%s: current -> %s after the next install", s, to)
				}
			}
			if c.keep == 1 {
				if es, _ := os.ReadDir(filepath.Join(e.roots, "s2/releases")); len(es) != 1 || es[0].Name() != "3" {
					t.Errorf("s2 keeps %v, want only release 3", es)
				}
			}
			// the unit written before the switch runs what current holds
			unit, err := os.ReadFile(filepath.Join(e.sysroot, "etc/systemd/system/s1.service"))
			if err != nil {
				t.Fatal(err)
			}
			if c.try["s1"] == changedUnit && !strings.Contains(string(unit), "MODE=new") {
				t.Errorf("the new unit was not written:\n%s", unit)
			}
			for _, line := range strings.Split(string(unit), "\n") {
				if prog, ok := strings.CutPrefix(line, "ExecStart="); ok {
					prog, _, _ = strings.Cut(prog, " ")
					if out, err := exec.Command(prog, "-c", "import six").CombinedOutput(); err != nil {
						t.Errorf("ExecStart %s: %v %s", prog, err, out)
					}
				}
			}
		})
	}
}

// TestOneSetFailureAfterStaging: a one-set install whose receipt copy
// fails leaves current where it was.
func TestOneSetFailureAfterStaging(t *testing.T) {
	e := newPlanEnv(t)
	root := filepath.Join(e.roots, "s1")
	args := []string{"install", "--lock", filepath.Join(e.dir, "s1.txt"), "--wheelhouse", filepath.Join(e.dir, "wheels"),
		"--root", root, "--python", e.py, "--no-compile", "--receipts-dir", e.receipts, "--quiet"}
	if _, code, err := pipbake(t, append(args, "--release", "1")...); code != 0 {
		t.Fatal(err)
	}
	before := e.snapshot(t)
	undo := immutable(t, e.receipts)
	_, code, err := pipbake(t, append(args, "--release", "2")...)
	undo()
	if code != 1 || err == nil {
		t.Fatalf("want exit 1, got %d: %v", code, err)
	}
	if after := e.snapshot(t); after != before {
		t.Fatalf("the failed install changed things:\n--- before\n%s\n--- after\n%s", before, after)
	}
}

// TestAttestationsFailureKeepsCurrent: the statements beside the receipts
// are written before any switch, so a folder that cannot be written fails
// the install with every set where it was and the old statements kept
// (it was written after the switches, and failed with both sets switched).
func TestAttestationsFailureKeepsCurrent(t *testing.T) {
	e := newPlanEnv(t)
	plan := e.plan(t, 3, nil)
	e.mustInstall(t, plan, "1")
	atts := filepath.Join(e.dir, "attestations")
	statements := func() string {
		var b strings.Builder
		ents, err := os.ReadDir(atts)
		if err != nil {
			t.Fatal(err)
		}
		for _, de := range ents {
			data, _ := os.ReadFile(filepath.Join(atts, de.Name()))
			fmt.Fprintf(&b, "%s %x\n", de.Name(), sha256.Sum256(data))
		}
		return b.String()
	}
	beforeAtts := statements()
	if !strings.Contains(beforeAtts, "s1") || !strings.Contains(beforeAtts, "s2") {
		t.Fatalf("no statements for both sets after install 1:\n%s", beforeAtts)
	}
	before := e.snapshot(t)
	undo := immutable(t, atts)
	code, err := e.install(t, plan, "2")
	undo()
	if code != 1 || err == nil || !strings.Contains(err.Error(), "attestations") {
		t.Fatalf("want exit 1 naming the attestations, got %d: %v", code, err)
	}
	if after := e.snapshot(t); after != before {
		t.Fatalf("the failed install changed things:\n--- before\n%s\n--- after\n%s", before, after)
	}
	if got := statements(); got != beforeAtts {
		t.Errorf("statements changed:\n--- before\n%s--- after\n%s", beforeAtts, got)
	}
	e.mustInstall(t, plan, "2")
	if got := statements(); got == beforeAtts {
		t.Error("install 2 did not write its statements")
	}
}
