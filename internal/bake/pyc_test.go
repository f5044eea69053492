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

// run bakes release rel into root with the host cache hostCache.
func (b *pycBake) run(t *testing.T, root, rel, hostCache string) (*receipt.Receipt, string) {
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
			return "chmod +x " + shell.Quote(agent) + " && " + shell.Quote(agent) + " " + args + " --system-root " + shell.Quote(filepath.Join(b.dir, "sysroot")), nil
		},
	}
	res, err := Run(context.Background(), &local{env: []string{"HOME=" + b.home, "XDG_CACHE_HOME=", pyccache.Env + "="}}, opts)
	if err != nil {
		t.Fatalf("bake %s: %v\nlog:\n%s", rel, err, log.String())
	}
	if _, err := os.Stat(staging); !os.IsNotExist(err) {
		t.Errorf("bake %s: staging folder left: %v", rel, err)
	}
	if _, err := os.Stat(filepath.Join(b.home, ".cache", "pipbake", "bytecode")); !os.IsNotExist(err) {
		t.Errorf("bake %s: the agent kept a bytecode cache on the machine: %v", rel, err)
	}
	rc := res.Receipts["api"]
	if rc == nil || rc.Bytecode == nil {
		t.Fatalf("bake %s: no bytecode counts in the receipt: %+v", rel, rc)
	}
	return rc, log.String()
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
	if rc1.Bytecode.Compiled == 0 || rc1.Bytecode.Cached != 0 {
		t.Fatalf("cold bake: %+v\n%s", rc1.Bytecode, log1)
	}
	u, err := pyccache.Measure(hostCache)
	if err != nil {
		t.Fatal(err)
	}
	if u.Entries != rc1.Bytecode.Compiled {
		t.Fatalf("host cache holds %d entries after a bake that compiled %d\n%s", u.Entries, rc1.Bytecode.Compiled, log1)
	}
	rc2, log2 := b.run(t, filepath.Join(b.dir, "srv", "two"), "r2", hostCache)
	if rc2.Bytecode.Compiled != 0 || rc2.Bytecode.Cached != rc1.Bytecode.Compiled {
		t.Fatalf("warm bake: %+v, want 0 compiled and %d cached\n%s", rc2.Bytecode, rc1.Bytecode.Compiled, log2)
	}
	if !strings.Contains(log2, fmt.Sprintf("%d of %d modules' .pyc sent", rc1.Bytecode.Compiled, rc1.Bytecode.Compiled)) {
		t.Errorf("warm bake's log does not say every .pyc was sent:\n%s", log2)
	}
	one := pycFiles(t, filepath.Join(b.dir, "srv", "one", "releases", "r1"))
	two := pycFiles(t, filepath.Join(b.dir, "srv", "two", "releases", "r2"))
	if len(one) != rc1.Bytecode.Compiled || len(two) != len(one) {
		t.Fatalf("%d and %d .pyc files, %d compiled", len(one), len(two), rc1.Bytecode.Compiled)
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
	rcs := make([]*receipt.Receipt, 2)
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
	if rc.Bytecode.Compiled != 0 || rc.Bytecode.Cached != rcs[0].Bytecode.Compiled+rcs[0].Bytecode.Cached || strings.Contains(log, "damaged") {
		t.Fatalf("bake after two parallel ones: %+v (they: %+v %+v)\n%s", rc.Bytecode, rcs[0].Bytecode, rcs[1].Bytecode, log)
	}
}

// TestBakeBytecodeOff: with the host cache off the agent compiles
// everything and keeps no cache on the machine (checked by run).
func TestBakeBytecodeOff(t *testing.T) {
	b := newPycBake(t)
	rc, log := b.run(t, filepath.Join(b.dir, "srv", "off"), "r1", pyccache.Off)
	if rc.Bytecode.Compiled == 0 || rc.Bytecode.Cached != 0 {
		t.Fatalf("bake without a cache: %+v\n%s", rc.Bytecode, log)
	}
}
