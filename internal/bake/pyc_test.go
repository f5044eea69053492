package bake

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyccache"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/shell"
)

// pycBake is a bake of the flask closure on this machine (the local
// remote) whose agent's HOME is a scratch folder, so that a cache the
// agent kept by default would show.
type pycBake struct {
	dir, wh, lock, agent, home string
	// loseResult removes the agent's install result once it is written,
	// as if it could not be brought back.
	loseResult bool
	// env is added to the agent's environment.
	env []string
}

func newPycBake(t *testing.T) *pycBake {
	t.Helper()
	set := corpustest.Set(t)
	flask, err := set.Closure(context.Background(), "flask")
	if err != nil {
		t.Fatal(err)
	}
	b := &pycBake{dir: t.TempDir()}
	b.wh = filepath.Join(b.dir, "wheelhouse")
	os.MkdirAll(b.wh, 0o755)
	for _, w := range flask {
		os.Symlink(w.Path, filepath.Join(b.wh, w.File))
	}
	b.lock = filepath.Join(b.dir, "api.txt")
	if err := corpus.WriteRequirements(b.lock, flask); err != nil {
		t.Fatal(err)
	}
	b.agent = filepath.Join(b.dir, "pipbake-agent")
	if out, err := exec.Command("go", "build", "-tags", "pipbake_agent", "-o", b.agent, "../../cmd/pipbake").CombinedOutput(); err != nil {
		t.Fatalf("build agent: %v\n%s", err, out)
	}
	b.home = filepath.Join(b.dir, "home")
	os.MkdirAll(b.home, 0o755)
	return b
}

// run bakes release rel into root with the host cache hostCache and
// returns the set's bytecode counts and the log.
func (b *pycBake) run(t *testing.T, root, rel, hostCache string) (Bytecode, string) {
	t.Helper()
	var log bytes.Buffer
	staging := filepath.Join(b.dir, "staging-"+filepath.Base(root)+"-"+rel)
	opts := Options{
		Sets:          []plan.Set{{Name: "api", Lock: b.lock, Root: root, Python: corpustest.Python(t)}},
		Wheelhouse:    b.wh,
		Release:       rel,
		Staging:       staging,
		AgentPath:     b.agent,
		BytecodeCache: hostCache,
		Log:           &log, Output: &log,
		Command: func(agent, args string) (string, error) {
			args = strings.Replace(args, ReceiptsDir, filepath.Join(b.dir, "var-lib", "receipts"), 1)
			cmd := "chmod +x " + shell.Quote(agent) + " && " + shell.Quote(agent) + " " + args + " --system-root " + shell.Quote(filepath.Join(b.dir, "sysroot"))
			if b.loseResult {
				cmd += " && rm " + shell.Quote(resultPath(staging))
			}
			return cmd, nil
		},
	}
	res, err := Run(context.Background(), &local{env: append([]string{"HOME=" + b.home, "XDG_CACHE_HOME=", pyccache.Env + "="}, b.env...)}, opts)
	if err != nil {
		t.Fatalf("bake %s: %v\nlog:\n%s", rel, err, log.String())
	}
	if _, err := os.Stat(staging); !os.IsNotExist(err) {
		t.Errorf("bake %s: staging folder left: %v", rel, err)
	}
	if _, err := os.Stat(filepath.Join(b.home, ".cache", "pipbake", "bytecode")); !os.IsNotExist(err) {
		t.Errorf("bake %s: the agent kept a bytecode cache on the machine: %v", rel, err)
	}
	if res.Receipts["api"] == nil {
		t.Fatalf("bake %s: no receipt", rel)
	}
	n, ok := res.Bytecode["api"]
	if b.loseResult {
		if ok || !strings.Contains(log.String(), "warning: the install's result "+resultPath(staging)+" did not come back") {
			t.Errorf("bake %s: the install result was lost, yet counts %v, or no warning:\n%s", rel, res.Bytecode, log.String())
		}
		return n, log.String()
	}
	if !ok {
		t.Fatalf("bake %s: no bytecode counts in the result\n%s", rel, log.String())
	}
	if !strings.Contains(log.String(), "pipbake: api: bytecode: "+n.String()) {
		t.Errorf("bake %s: the agent's log does not say %s:\n%s", rel, n, log.String())
	}
	return n, log.String()
}

// pycFiles reads every .pyc of a release, by path inside it.
func pycFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(p, ".pyc") {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBakeBytecodeHostCache: the first bake with an empty host cache
// compiles every module and brings the .pyc files back into the host
// cache; a second bake of the same lock, another release in another
// root, compiles none and writes the same .pyc bytes.
func TestBakeBytecodeHostCache(t *testing.T) {
	b := newPycBake(t)
	hostCache := filepath.Join(b.dir, "host-cache")
	rc1, log1 := b.run(t, filepath.Join(b.dir, "srv", "one"), "r1", hostCache)
	if rc1.Compiled == 0 || rc1.Cached != 0 {
		t.Fatalf("cold bake: %+v\n%s", rc1, log1)
	}
	u, err := pyccache.Measure(hostCache)
	if err != nil {
		t.Fatal(err)
	}
	if u.Entries != rc1.Compiled {
		t.Fatalf("host cache holds %d entries after a bake that compiled %d\n%s", u.Entries, rc1.Compiled, log1)
	}
	rc2, log2 := b.run(t, filepath.Join(b.dir, "srv", "two"), "r2", hostCache)
	if rc2.Compiled != 0 || rc2.Cached != rc1.Compiled {
		t.Fatalf("warm bake: %+v, want 0 compiled and %d cached\n%s", rc2, rc1.Compiled, log2)
	}
	if !strings.Contains(log2, fmt.Sprintf("%d of %d modules' .pyc sent", rc1.Compiled, rc1.Compiled)) {
		t.Errorf("warm bake's log does not say every .pyc was sent:\n%s", log2)
	}
	one := pycFiles(t, filepath.Join(b.dir, "srv", "one", "releases", "r1"))
	two := pycFiles(t, filepath.Join(b.dir, "srv", "two", "releases", "r2"))
	if len(one) != rc1.Compiled || len(two) != len(one) {
		t.Fatalf("%d and %d .pyc files, %d compiled", len(one), len(two), rc1.Compiled)
	}
	for p, data := range one {
		if !bytes.Equal(two[p], data) {
			t.Errorf("%s differs between the cold and the warm bake", p)
		}
	}
	// The host cache still holds exactly those entries: the warm bake
	// brought nothing back.
	if u2, _ := pyccache.Measure(hostCache); u2.Entries != u.Entries {
		t.Errorf("host cache went from %d to %d entries on a warm bake", u.Entries, u2.Entries)
	}
	// The imported releases work: flask imports from the .pyc files.
	py := filepath.Join(b.dir, "srv", "two", "current", "bin", "python")
	if out, err := exec.Command(py, "-c", "import flask, sys; print(flask.__file__); print(sys.flags.dont_write_bytecode)").CombinedOutput(); err != nil {
		t.Fatalf("flask from the warm release: %v\n%s", err, out)
	}
}

// TestBakeBytecodeParallel: two cold bakes running at once on one host
// cache both succeed and leave it whole: a third bake compiles nothing
// and finds nothing damaged.
func TestBakeBytecodeParallel(t *testing.T) {
	b := newPycBake(t)
	hostCache := filepath.Join(b.dir, "host-cache")
	var wg sync.WaitGroup
	rcs := make([]Bytecode, 2)
	for i := range rcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rcs[i], _ = b.run(t, filepath.Join(b.dir, "srv", fmt.Sprint("p", i)), "r1", hostCache)
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	rc, log := b.run(t, filepath.Join(b.dir, "srv", "after"), "r2", hostCache)
	if rc.Compiled != 0 || rc.Cached != rcs[0].Compiled+rcs[0].Cached || strings.Contains(log, "damaged") {
		t.Fatalf("bake after two parallel ones: %+v (they: %+v %+v)\n%s", rc, rcs[0], rcs[1], log)
	}
}

// TestBakeBytecodeOff: with the host cache off the agent compiles
// everything and keeps no cache on the machine (checked by run).
func TestBakeBytecodeOff(t *testing.T) {
	b := newPycBake(t)
	rc, log := b.run(t, filepath.Join(b.dir, "srv", "off"), "r1", pyccache.Off)
	if rc.Compiled == 0 || rc.Cached != 0 {
		t.Fatalf("bake without a cache: %+v\n%s", rc, log)
	}
}

// TestBakeBytecodeColdWarmSame: a cold bake (empty host cache) and a warm
// one (every .pyc sent from it) of the same lock and release, at the same
// root path (the cold root then moved aside), give byte-identical
// receipts and trees: the counts are in the bake's Result, not in the
// release. (The receipts differed while they counted the bytecode.)
func TestBakeBytecodeColdWarmSame(t *testing.T) {
	b := newPycBake(t)
	b.env = []string{"SOURCE_DATE_EPOCH=1764133200"}
	hostCache := filepath.Join(b.dir, "host-cache")
	root := filepath.Join(b.dir, "srv", "api")
	cold, _ := b.run(t, root, "r1", hostCache)
	if err := os.Rename(root, root+"-cold"); err != nil {
		t.Fatal(err)
	}
	warm, _ := b.run(t, root, "r1", hostCache)
	if cold.Compiled == 0 || cold.Cached != 0 || warm.Compiled != 0 || warm.Cached != cold.Compiled {
		t.Fatalf("cold %+v, warm %+v: not a cold and a warm bake", cold, warm)
	}
	a, z := treeOf(t, filepath.Join(root+"-cold", "releases", "r1")), treeOf(t, filepath.Join(root, "releases", "r1"))
	if a[receipt.FileName] != z[receipt.FileName] {
		t.Errorf("the receipts differ:\n%s\n---\n%s", a[receipt.FileName], z[receipt.FileName])
	}
	for p, d := range a {
		if z[p] != d {
			t.Errorf("%s differs between the cold and the warm bake", p)
		}
	}
	if len(a) != len(z) {
		t.Errorf("%d and %d files", len(a), len(z))
	}
}

// TestBakeResultLost: an install result that does not come back fails
// no bake (the sets are current by then): the bake says so and reports
// no counts.
func TestBakeResultLost(t *testing.T) {
	b := newPycBake(t)
	b.loseResult = true
	b.run(t, filepath.Join(b.dir, "srv", "lost"), "r1", filepath.Join(b.dir, "host-cache"))
	if _, err := os.Stat(filepath.Join(b.dir, "srv", "lost", "current", receipt.FileName)); err != nil {
		t.Fatalf("the set is not current: %v", err)
	}
}

// treeOf describes every file, link and folder under dir by mode and
// content (a link by its target).
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		desc := info.Mode().String()
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			to, _ := os.Readlink(p)
			desc += " -> " + to
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += " " + string(data)
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
