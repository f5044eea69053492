package install

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheel"
)

// peerDir holds pip's and pypa/installer's test wheels (testdata/peer).
const peerDir = "../../testdata/peer"

// peerWheels lists every wheel of peerDir's pip-test-wheels and
// installer-test-wheels folders, relative to peerDir.
func peerWheels(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, d := range []string{"pip-test-wheels", "installer-test-wheels"} {
		err := filepath.WalkDir(filepath.Join(peerDir, d), func(p string, e os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.IsDir() && strings.HasSuffix(p, ".whl") {
				rel, _ := filepath.Rel(peerDir, p)
				out = append(out, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(out)
	return out
}

// pipPeer installs the wheel at src with pip 23.2.1 (the target's
// ensurepip wheel, the pip that --installer pip runs) into a
// `venv --without-pip` at dir, as pipbake's pip installer asks for it:
// by requirement from a folder of that one file. A file whose name does
// not parse is given to pip by path.
func pipPeer(t *testing.T, tg *target.Target, src, dir string) error {
	t.Helper()
	pipWheel := ""
	for _, w := range tg.BundledWheels {
		if strings.HasPrefix(filepath.Base(w), "pip-23.2.1-") {
			pipWheel = w
		}
	}
	if pipWheel == "" {
		t.Fatalf("%s has no bundled pip 23.2.1 wheel (%v)", tg.Executable, tg.BundledWheels)
	}
	if out, err := exec.Command(tg.Executable, "-m", "venv", "--without-pip", dir).CombinedOutput(); err != nil {
		t.Fatalf("venv: %v\n%s", err, out)
	}
	args := []string{pipWheel + "/pip", "install", "--isolated", "--no-index", "--no-deps", "--no-compile",
		"--disable-pip-version-check", "--no-warn-script-location"}
	if n, err := wheel.ParseName(filepath.Base(src)); err == nil {
		args = append(args, "--find-links", filepath.Dir(src), n.Distribution+"=="+n.Version) // src's folder holds only src
	} else {
		args = append(args, src)
	}
	cmd := exec.Command(filepath.Join(dir, "bin", "python"), args...)
	cmd.Env = target.CleanEnv(os.Environ())
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w\n%s", err, out)
	}
	return nil
}

// pipbakePeer installs the wheel at src with pipbake's native installer as
// release "r" of root, from src's folder (which holds only src) with a
// lock pinning it by the name and version of its file name.
func pipbakePeer(t *testing.T, py, src, root string) error {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	name, version := "unparseable", "1.0"
	if n, err := wheel.ParseName(filepath.Base(src)); err == nil {
		name, version = n.Distribution, n.Version
	}
	sum := sha256.Sum256(data)
	lockPath := filepath.Join(t.TempDir(), "requirements.txt")
	if err := os.WriteFile(lockPath, []byte(fmt.Sprintf("%s==%s --hash=sha256:%s\n", name, version, hex.EncodeToString(sum[:]))), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), Set{Name: "peer", Lock: lockPath, Python: py, Root: root, Installer: Native}, Options{Release: "r", Wheelhouse: filepath.Dir(src)})
	return err
}

// alone copies the file src into a folder of its own.
func alone(t *testing.T, src string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// treeDiff lists how two trees differ, file by file and, within a file,
// line by line.
func treeDiff(want, got map[string]string) []string {
	var out []string
	for k, v := range want {
		g, ok := got[k]
		switch {
		case !ok:
			out = append(out, "pip only: "+k)
		case g != v:
			out = append(out, fmt.Sprintf("%s:\n%s", k, lineDiff(v, g)))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			out = append(out, "pipbake only: "+k)
		}
	}
	sort.Strings(out)
	return out
}

func lineDiff(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	am, bm := in(a), in(b)
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if !bm[l] {
			out = append(out, fmt.Sprintf("  pip:     %.200q", l))
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !am[l] {
			out = append(out, fmt.Sprintf("  pipbake: %.200q", l))
		}
	}
	return strings.Join(out, "\n")
}

// peerWant is what must happen to one peer wheel.
type peerWant int

const (
	// sameTree: pip and pipbake install it, and the trees are the same.
	sameTree peerWant = iota
	// refusedByBoth: neither installs it.
	refusedByBoth
	// refusedByPipbake: pip installs it; pipbake deliberately refuses it,
	// with reason in its error, and the README's table of such refusals
	// names the wheel.
	refusedByPipbake
)

// peerTable says what must happen to every wheel of testdata/peer's
// pip-test-wheels and installer-test-wheels (paths relative to
// testdata/peer); TestPeerWheels fails on a wheel it does not list.
var peerTable = map[string]struct {
	want   peerWant
	reason string // refusedByPipbake: a part of pipbake's error
}{
	"pip-test-wheels/brokenwheel-1.0-py2.py3-none-any.whl":               {want: refusedByBoth},
	"pip-test-wheels/colander-0.9.9-py2.py3-none-any.whl":                {},
	"pip-test-wheels/compilewheel-1.0-py2.py3-none-any.whl":              {},
	"pip-test-wheels/complex_dist-0.1-py2.py3-none-any.whl":              {},
	"pip-test-wheels/console_scripts_uppercase-1.0-py2.py3-none-any.whl": {},
	"pip-test-wheels/corruptwheel-1.0-py2.py3-none-any.whl":              {want: refusedByBoth},
	"pip-test-wheels/django_devserver-0.8.0-py3-none-any.whl":            {},
	"pip-test-wheels/dummy_backend-0.1-py2.py3-none-any.whl":             {},
	"pip-test-wheels/has.script-1.0-py2.py3-none-any.whl":                {},
	"pip-test-wheels/invalid.whl":                                        {want: refusedByBoth},
	"pip-test-wheels/invalid_version-1.0-py3-none-any.whl":               {},
	"pip-test-wheels/invalid_version-2010i-py3-none-any.whl":             {want: refusedByPipbake, reason: `invalid PEP 440 version "2010i"`},
	"pip-test-wheels/license.dist-0.1-py2.py3-none-any.whl":              {want: refusedByPipbake, reason: `member "license.dist-0.1.dist-info/METADATA": RECORD says 271 bytes, the zip directory 328`},
	"pip-test-wheels/license.dist-0.2-py2.py3-none-any.whl":              {want: refusedByPipbake, reason: `member "license.dist-0.2.dist-info/METADATA": RECORD says 271 bytes, the zip directory 294`},
	"pip-test-wheels/meta-1.0-py2.py3-none-any.whl":                      {},
	"pip-test-wheels/mypy-0.782-py3-none-any.whl":                        {},
	"pip-test-wheels/pkg_prerelease-1.0a1-py3-none-any.whl":              {},
	"pip-test-wheels/priority-1.0-py2.py3-none-any.whl":                  {want: refusedByBoth},
	"pip-test-wheels/prjwithdatafile-1.0-py2.py3-none-any.whl":           {},
	"pip-test-wheels/require_invalid_version-0.1-py3-none-any.whl":       {},
	"pip-test-wheels/require_invalid_version-1.0-py3-none-any.whl":       {},
	"pip-test-wheels/requires_simple_extra-0.1-py2.py3-none-any.whl":     {},
	"pip-test-wheels/requires_source-1.0-py2.py3-none-any.whl":           {},
	"pip-test-wheels/script.wheel1-0.1-py2.py3-none-any.whl":             {},
	"pip-test-wheels/script.wheel1a-0.1-py2.py3-none-any.whl":            {},
	"pip-test-wheels/script.wheel2-0.1-py2.py3-none-any.whl":             {},
	"pip-test-wheels/script.wheel2a-0.1-py2.py3-none-any.whl":            {},
	"pip-test-wheels/script.wheel3-0.1-py2.py3-none-any.whl":             {},
	"pip-test-wheels/setuptools-0.9.8-py2.py3-none-any.whl":              {},
	"pip-test-wheels/simple.dist-0.1-py1-none-invalid.whl":               {want: refusedByBoth},
	"pip-test-wheels/simple.dist-0.1-py2.py3-none-any.whl":               {},
	"pip-test-wheels/simple_namespace-1.0-py2.py3-none-any.whl":          {},
	"pip-test-wheels/simplewheel-1.0-py2.py3-none-any.whl":               {},
	"pip-test-wheels/simplewheel-2.0-1-py2.py3-none-any.whl":             {want: refusedByPipbake, reason: `member "simplewheel-2.0.dist-info/DESCRIPTION.rst": is not listed in RECORD`},
	"pip-test-wheels/simplewheel-2.0-py2.py3-none-any.whl":               {},
	"pip-test-wheels/simplewheel-2.0-py3-fakeabi-fakeplat.whl":           {want: refusedByBoth},
	"pip-test-wheels/six-1.17.0-py2.py3-none-any.whl":                    {},
	"pip-test-wheels/test_backend-0.1-py2.py3-none-any.whl":              {},

	"installer-test-wheels/Fancy-1.0.0-py3-none-any.whl":                             {},
	"installer-test-wheels/another_fancy-1.0.0-py2.py3-none-any.whl":                 {want: refusedByPipbake, reason: `member "another_fancy-1.0.0.dist-info/top_level.txt": RECORD says 6 bytes, the zip directory 14`},
	"installer-test-wheels/fancy-1.0.0-py2.py3-none-any.whl":                         {},
	"installer-test-wheels/misnamed-1.0.0-py3-none-any.whl":                          {want: refusedByBoth},
	"installer-test-wheels/not_a_valid_name.whl":                                     {want: refusedByBoth},
	"installer-test-wheels/fancy_badrecordentry/fancy-1.0.0-py2.py3-none-any.whl":    {want: refusedByPipbake, reason: `is not algorithm=digest`},
	"installer-test-wheels/fancy_hashmismatch/fancy-1.0.0-py2.py3-none-any.whl":      {want: refusedByPipbake, reason: `RECORD mismatch: content hashes to`},
	"installer-test-wheels/fancy_jws/fancy-1.0.0-py2.py3-none-any.whl":               {},
	"installer-test-wheels/fancy_jwsinrecord/fancy-1.0.0-py2.py3-none-any.whl":       {},
	"installer-test-wheels/fancy_norecord/fancy-1.0.0-py2.py3-none-any.whl":          {want: refusedByBoth},
	"installer-test-wheels/fancy_recordmissingfile/fancy-1.0.0-py2.py3-none-any.whl": {want: refusedByPipbake, reason: `is not listed in RECORD`},
	"installer-test-wheels/fancy_recordnohash/fancy-1.0.0-py2.py3-none-any.whl":      {want: refusedByPipbake, reason: `"fancy/__init__.py" has no hash`},
	"installer-test-wheels/fancy_recordselfhash/fancy-1.0.0-py2.py3-none-any.whl":    {want: refusedByPipbake, reason: `RECORD lists a hash or size for itself`},
	"installer-test-wheels/fancy_twodistinfo/fancy-1.0.0-py2.py3-none-any.whl":       {want: refusedByBoth},
	"installer-test-wheels/fancy_unknownhash/fancy-1.0.0-py2.py3-none-any.whl":       {want: refusedByPipbake, reason: `hash algorithm "sha" of "fancy/__init__.py" is not accepted`},
}

// TestPeerWheels (issue 12.4) installs each of pip's and pypa/installer's
// test wheels with pipbake's native installer and with pip 23.2.1, each
// into a `venv --without-pip` at the same path, and compares the trees:
// files, contents and modes, apart from INSTALLER, bytecode, RECORD's
// order and the RECORD rows pip keeps for files it did not install
// (pypa/pip#1376; pipbake's RECORD lists only installed files, which this
// test checks). Each wheel must do what peerTable says.
func TestPeerWheels(t *testing.T) {
	if testing.Short() {
		t.Skip("runs pip once per wheel")
	}
	py := corpustest.Python(t)
	tg, err := target.Probe(context.Background(), py)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	wheels := peerWheels(t)
	listed := map[string]bool{}
	for _, rel := range wheels {
		listed[rel] = true
		if _, ok := peerTable[rel]; !ok {
			t.Errorf("%s is not in peerTable: say what pipbake must do with it", rel)
		}
	}
	for rel := range peerTable {
		if !listed[rel] {
			t.Errorf("peerTable lists %s, which is not in %s", rel, peerDir)
		}
	}
	if len(wheels) < 50 {
		t.Fatalf("only %d peer wheels: is testdata/peer complete?", len(wheels))
	}
	for _, rel := range wheels {
		row := peerTable[rel]
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			src := alone(t, filepath.Join(peerDir, rel))
			base := shortTempDir(t)
			root := filepath.Join(base, "root")
			dir := filepath.Join(root, "releases", "r")
			pipErr := pipPeer(t, tg, src, dir)
			var pipTree map[string]string
			if pipErr == nil {
				pipTree = tree(t, dir, dir)
			}
			if err := os.Rename(root, filepath.Join(base, "pip")); err != nil {
				t.Fatal(err)
			}
			bakeErr := pipbakePeer(t, py, src, root)
			switch row.want {
			case sameTree: // compared below
			case refusedByBoth:
				if pipErr == nil || bakeErr == nil {
					t.Fatalf("want both to refuse it; pip: %v, pipbake: %v", pipErr, bakeErr)
				}
				if !strings.Contains(bakeErr.Error(), filepath.Base(rel)) && !strings.Contains(bakeErr.Error(), "no wheel") {
					t.Errorf("pipbake's error does not name the wheel: %v", bakeErr)
				}
				return
			case refusedByPipbake:
				if pipErr != nil {
					t.Fatalf("pip refuses it too (make the row refusedByBoth): %v", pipErr)
				}
				if bakeErr == nil || !strings.Contains(bakeErr.Error(), row.reason) {
					t.Fatalf("pipbake: got %v, want a refusal with %q", bakeErr, row.reason)
				}
				if name := peerName(rel); !strings.Contains(string(readme), "`"+name+"`") {
					t.Errorf("README.md's table of what pipbake refuses and pip accepts does not name `%s`", name)
				}
				return
			}
			if pipErr != nil || bakeErr != nil {
				t.Fatalf("want both to install it; pip: %v\npipbake: %v", pipErr, bakeErr)
			}
			bakeTree := tree(t, dir, dir)
			if ph := phantomRows(bakeTree); len(ph) > 0 {
				t.Errorf("pipbake's RECORD lists files it did not install: %v", ph)
			}
			dropPhantomRows(pipTree)
			if diffs := treeDiff(pipTree, bakeTree); len(diffs) > 0 {
				t.Errorf("the trees differ:\n%s", strings.Join(diffs, "\n"))
			}
		})
	}
}

// shortTempDir is a temporary folder whose path stays short whatever the
// test's name. Both installers write the environment's interpreter into
// scripts' shebang lines, and they differ only past the kernel's 127-byte
// line: pip writes it as is into a `#!python` data script, pipbake writes
// the /bin/sh trampoline it writes for entry points (internal/wheel's
// TestLongShebang). t.TempDir's path carries the subtest's name and a
// random number of 1 to 10 digits, which put this test on either side of
// 127 bytes under CI's TMPDIR.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "peer")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// peerName is how the README names a peer wheel: its file name, or for
// pypa/installer's variants of one wheel, their folder's.
func peerName(rel string) string {
	if dir := filepath.Base(filepath.Dir(rel)); strings.HasPrefix(dir, "fancy_") {
		return dir
	}
	return filepath.Base(rel)
}

// recordRows splits a tree entry of a RECORD (see tree) into its mode
// line and its rows.
func recordRows(entry string) (mode string, rows []string) {
	lines := strings.Split(entry, "\n")
	return lines[0], lines[1:]
}

// phantomRows lists, for every RECORD of t, the rows naming a file t
// does not hold.
func phantomRows(t map[string]string) []string {
	var out []string
	for k, v := range t {
		if !strings.HasSuffix(k, ".dist-info/RECORD") {
			continue
		}
		_, rows := recordRows(v)
		for _, r := range rows {
			if !rowExists(t, k, r) {
				out = append(out, k+": "+r)
			}
		}
	}
	sort.Strings(out)
	return out
}

// dropPhantomRows removes from t's RECORD entries the rows phantomRows
// lists.
func dropPhantomRows(t map[string]string) {
	for k, v := range t {
		if !strings.HasSuffix(k, ".dist-info/RECORD") {
			continue
		}
		mode, rows := recordRows(v)
		keep := []string{mode}
		for _, r := range rows {
			if rowExists(t, k, r) {
				keep = append(keep, r)
			}
		}
		t[k] = strings.Join(keep, "\n")
	}
}

// rowExists reports whether the file a RECORD row of the RECORD at record
// (a tree key) names is in t.
func rowExists(t map[string]string, record, row string) bool {
	p, _, _ := strings.Cut(row, ",") // the tree's paths have no commas
	rel := filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(filepath.Dir(record)), p)))
	_, ok := t[rel]
	return ok
}
