package install

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyccache"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/release"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelhouse"
)

// fixture is a root with a good release r1 of six installed.
type fixture struct {
	py, root, wh string
	six          corpus.Wheel
}

func newFixture(t *testing.T, root string) *fixture {
	t.Helper()
	py := corpustest.Python(t)
	six, ok := corpustest.Set(t).Get("six")
	if !ok {
		t.Fatal("six is not in the corpus")
	}
	wh, lockPath := house(t, []corpus.Wheel{six})
	if root == "" {
		root = filepath.Join(t.TempDir(), "root")
	}
	if _, err := Run(context.Background(), Set{Name: "s", Lock: lockPath, Python: py, Root: root}, Options{Release: "r1", Wheelhouse: wh}); err != nil {
		t.Fatal(err)
	}
	return &fixture{py: py, root: root, wh: wh, six: six}
}

// attempt installs release r2 from lockText and wheelhouse wh, expects an
// error containing want, and checks nothing changed: current is still r1,
// and r1 is the only release directory.
func (f *fixture) attempt(t *testing.T, wh, lockName, lockText, python, want string) {
	t.Helper()
	lockPath := filepath.Join(t.TempDir(), lockName)
	if err := os.WriteFile(lockPath, []byte(lockText), 0o644); err != nil {
		t.Fatal(err)
	}
	if python == "" {
		python = f.py
	}
	_, err := Run(context.Background(), Set{Name: "s", Lock: lockPath, Python: python, Root: f.root, Compile: true}, Options{Release: "r2", Wheelhouse: wh})
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("want an error containing %q, got %v", want, err)
	}
	f.unchanged(t)
}

func (f *fixture) unchanged(t *testing.T) {
	t.Helper()
	if cur := currentOf(t, f.root); cur != "r1" {
		t.Fatalf("current moved to %q", cur)
	}
	if got := strings.Join(entries(t, f.root), " "); got != "r1" {
		t.Fatalf("release directories after a failed install: %s", got)
	}
	run(t, filepath.Join(f.root, "current", "bin", "python"), "-c", "import six")
}

func lockLine(w corpus.Wheel, sha string) string {
	return w.Name + "==" + w.Version + " \\\n    --hash=sha256:" + sha + "\n"
}

// copyWheel copies a wheel, optionally replacing one member's content
// (RECORD left as it was) or adding members.
func copyWheel(t *testing.T, src, dstDir string, replace map[string]string, add map[string]string) corpus.Wheel {
	t.Helper()
	zr, err := zip.OpenReader(src)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	dst := filepath.Join(dstDir, filepath.Base(src))
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(out)
	for name, body := range add {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, body)
	}
	for _, f := range zr.File {
		w, err := zw.CreateHeader(&f.FileHeader)
		if err != nil {
			t.Fatal(err)
		}
		if body, ok := replace[f.Name]; ok {
			io.WriteString(w, body)
			continue
		}
		rc, _ := f.Open()
		io.Copy(w, rc)
		rc.Close()
	}
	zw.Close()
	out.Close()
	sha, _, err := wheelhouse.HashFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	name, _ := strings.CutSuffix(filepath.Base(src), ".whl")
	parts := strings.Split(name, "-")
	return corpus.Wheel{Name: parts[0], Version: parts[1], File: filepath.Base(dst), Path: dst, SHA256: sha}
}

func TestBadInputChangesNothing(t *testing.T) {
	f := newFixture(t, "")
	six := f.six
	t.Run("hash mismatch", func(t *testing.T) {
		f.attempt(t, f.wh, "req.txt", lockLine(six, strings.Repeat("ab", 32)), "", "six=="+six.Version+": hash mismatch for "+six.File)
	})
	t.Run("missing wheel", func(t *testing.T) {
		f.attempt(t, f.wh, "req.txt", lockLine(six, six.SHA256)+"flask==3.1.3 --hash=sha256:"+strings.Repeat("0", 64)+"\n", "", "flask==3.1.3: no wheel in")
	})
	t.Run("no compatible wheel", func(t *testing.T) {
		py38 := corpustest.PyenvPython(t, "3.8")
		cext, err := corpus.CExtension(context.Background(), f.py, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		wh, _ := house(t, []corpus.Wheel{cext})
		f.attempt(t, wh, "req.txt", lockLine(cext, cext.SHA256), py38, "no wheel fits this interpreter; it needs one of the tags cp38-cp38-manylinux")
	})
	t.Run("corrupt zip", func(t *testing.T) {
		dir := t.TempDir()
		data, _ := os.ReadFile(six.Path)
		p := filepath.Join(dir, six.File)
		os.WriteFile(p, data[:len(data)/2], 0o644)
		sha, _, _ := wheelhouse.HashFile(p)
		f.attempt(t, dir, "req.txt", lockLine(six, sha), "", "not a readable zip archive")
	})
	t.Run("member escapes", func(t *testing.T) {
		dir := t.TempDir()
		w := copyWheel(t, six.Path, dir, nil, map[string]string{"../../../../tmp/pwned.py": "x"})
		f.attempt(t, dir, "req.txt", lockLine(six, w.SHA256), "", "member escapes the install target")
	})
	t.Run("RECORD mismatch", func(t *testing.T) {
		dir := t.TempDir()
		w := copyWheel(t, six.Path, dir, map[string]string{"six.py": "raise SystemExit('tampered')\n"}, nil)
		// sizes are checked when the wheel is opened: "RECORD says N bytes, the zip directory M"
		f.attempt(t, dir, "req.txt", lockLine(six, w.SHA256), "", `member "six.py": RECORD`)
	})
	t.Run("unpinned", func(t *testing.T) {
		f.attempt(t, f.wh, "api.txt", "# header\nsix>=1.16 --hash=sha256:"+six.SHA256+"\n", "", "api.txt:2")
	})
	t.Run("unhashed", func(t *testing.T) {
		f.attempt(t, f.wh, "api.txt", "six=="+six.Version+"\n", "", "api.txt:1")
	})
	t.Run("unknown lock format", func(t *testing.T) {
		f.attempt(t, f.wh, "poetry.lock", "[[package]]\nname = \"six\"\n", "", "unknown lock format")
	})
	t.Run("missing interpreter", func(t *testing.T) {
		f.attempt(t, f.wh, "req.txt", lockLine(six, six.SHA256), "/opt/nowhere/python3.99", `"/opt/nowhere/python3.99"`)
	})
	t.Run("leftover of an interrupted install", func(t *testing.T) {
		// a crash mid-install leaves an incomplete release directory
		if err := os.MkdirAll(filepath.Join(f.root, "releases", "r9", "lib"), 0o755); err != nil {
			t.Fatal(err)
		}
		lockPath := filepath.Join(t.TempDir(), "req.txt")
		os.WriteFile(lockPath, []byte(lockLine(six, six.SHA256)), 0o644)
		r, _ := release.Open(f.root)
		if list, _ := r.List(); len(list) != 1 {
			t.Fatalf("an incomplete release is listed: %+v", list)
		}
		if _, err := Run(context.Background(), Set{Name: "s", Lock: lockPath, Python: f.py, Root: f.root}, Options{Release: "r3", Wheelhouse: f.wh}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(entries(t, f.root), " "); got != "r1 r3" {
			t.Fatalf("releases: %s", got)
		}
		// back to r1 for the other cases
		if _, _, err := r.Rollback("r1"); err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(r.Path("r3"))
	})
}

// TestCancelledInstall interrupts a large install; current stays, and the
// next install needs no cleanup.
func TestCancelledInstall(t *testing.T) {
	f := newFixture(t, "")
	wh, lockPath := house(t, corpustest.Set(t).Wheels)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := Run(ctx, Set{Name: "s", Lock: lockPath, Python: f.py, Root: f.root, Compile: true}, Options{Release: "big", Wheelhouse: wh})
	if err == nil {
		t.Skip("the install finished before the deadline")
	}
	f.unchanged(t)
}

func TestDiskFull(t *testing.T) {
	dir := mountTmpfs(t, "size=3m")
	f := newFixture(t, filepath.Join(dir, "root"))
	wh, lockPath := house(t, flaskClosure(t))
	_, err := Run(context.Background(), Set{Name: "s", Lock: lockPath, Python: f.py, Root: f.root, Compile: true}, Options{Release: "r2", Wheelhouse: wh})
	if err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("want a disk full error, got %v", err)
	}
	f.unchanged(t)
}

func TestUnwritableRoot(t *testing.T) {
	dir := mountTmpfs(t, "size=1m,ro")
	py := corpustest.Python(t)
	six, _ := corpustest.Set(t).Get("six")
	wh, lockPath := house(t, []corpus.Wheel{six})
	_, err := Run(context.Background(), Set{Name: "s", Lock: lockPath, Python: py, Root: filepath.Join(dir, "root")}, Options{Wheelhouse: wh})
	if err == nil || !strings.Contains(err.Error(), "read-only file system") || !strings.Contains(err.Error(), filepath.Join(dir, "root")) {
		t.Fatalf("want a read-only error naming the root, got %v", err)
	}
}

// TestSwitchFailureRollsBack: when the switch of the second set fails
// (its root frozen just before), the first set, already switched, is
// switched back (its current removed, for a first install), the staged
// releases are removed and the next run succeeds.
func TestSwitchFailureRollsBack(t *testing.T) {
	py := corpustest.Python(t)
	six, _ := corpustest.Set(t).Get("six")
	wh, lockPath := house(t, []corpus.Wheel{six})
	dir := t.TempDir()
	first, second := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	opts := Options{Release: "r1", Wheelhouse: wh}
	if _, err := Run(context.Background(), Set{Name: "b", Lock: lockPath, Python: py, Root: second}, opts); err != nil {
		t.Fatal(err)
	}
	sets := []Set{{Name: "a", Lock: lockPath, Python: py, Root: first}, {Name: "b", Lock: lockPath, Python: py, Root: second}}
	var thaw func()
	freeze := func(res *Result) (func() error, error) {
		thaw = immutable(t, res.Root)
		return nil, nil
	}
	opts.Release = "r2"
	_, err := RunAll(context.Background(), sets, opts, []Step{nil, freeze})
	if thaw == nil {
		t.Fatal("the step did not run")
	}
	thaw()
	if err == nil || !strings.Contains(err.Error(), `set "b"`) || !strings.Contains(err.Error(), "operation not permitted") {
		t.Fatalf("want the second set's switch to fail, got %v", err)
	}
	if _, err := os.Lstat(filepath.Join(first, "current")); !os.IsNotExist(err) {
		t.Errorf("the first set's current was not removed: %v", err)
	}
	if got := strings.Join(entries(t, first), " "); got != "" {
		t.Errorf("first root's releases: %s", got)
	}
	if cur := currentOf(t, second); cur != "r1" {
		t.Errorf("second root's current: %s", cur)
	}
	if got := strings.Join(entries(t, second), " "); got != "r1" {
		t.Errorf("second root's releases: %s", got)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, "*", ".current-*")); len(leftovers) > 0 {
		t.Errorf("switch leftovers: %v", leftovers)
	}
	// the next run succeeds, and a failure now switches the first set back
	// to r2 rather than removing its current
	if _, err := RunAll(context.Background(), sets, opts, nil); err != nil {
		t.Fatal(err)
	}
	opts.Release = "r3"
	thaw = nil
	if _, err := RunAll(context.Background(), sets, opts, []Step{nil, freeze}); err == nil {
		t.Fatal("the frozen root switched")
	}
	thaw()
	for _, root := range []string{first, second} {
		if cur := currentOf(t, root); cur != "r2" {
			t.Errorf("%s: current %s, want r2", root, cur)
		}
		rep, err := receipt.Verify(filepath.Join(root, "current"), receipt.Options{})
		if err != nil || !rep.Clean() {
			t.Errorf("%s: verify: %v %v", root, err, rep)
		}
	}
}

// The chaos tests run the agent binary the provisioner uploads (pipbake
// built with -tags pipbake_agent) as a child process and break it: kill -9
// at random points, a full file system, several installs into the same
// roots at once. After each, every root's current is a complete release
// that verifies, or absent; nothing was written outside the roots; and
// the next run succeeds. $PIPBAKE_CHAOS_TRIALS sets how many trials each
// runs (default 20 kills, 8 disk-full fills), $PIPBAKE_CHAOS_SEED the
// random seed (logged).

func chaosTrials(t *testing.T, n int) int {
	t.Helper()
	if s := os.Getenv("PIPBAKE_CHAOS_TRIALS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("PIPBAKE_CHAOS_TRIALS=%q is not a positive number", s)
		}
		return v
	}
	if testing.Short() {
		return max(2, n/5)
	}
	return n
}

func chaosRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := time.Now().UnixNano()
	if s := os.Getenv("PIPBAKE_CHAOS_SEED"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("PIPBAKE_CHAOS_SEED=%q is not a number", s)
		}
		seed = v
	}
	t.Logf("PIPBAKE_CHAOS_SEED=%d", seed)
	return rand.New(rand.NewSource(seed))
}

var agent struct {
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if agent.path != "" {
		os.RemoveAll(filepath.Dir(agent.path))
	}
	os.Exit(code)
}

// agentBinary builds the agent once per test binary.
func agentBinary(t *testing.T) string {
	t.Helper()
	agent.once.Do(func() {
		dir, err := os.MkdirTemp("", "pipbake-agent-")
		if err != nil {
			agent.err = err
			return
		}
		agent.path = filepath.Join(dir, "pipbake")
		out, err := exec.Command("go", "build", "-tags", "pipbake_agent", "-o", agent.path, "github.com/pipbake/packer-plugin-pipbake/cmd/pipbake").CombinedOutput()
		if err != nil {
			agent.err = fmt.Errorf("build the agent: %v\n%s", err, out)
		}
	})
	if agent.err != nil {
		t.Fatal(agent.err)
	}
	return agent.path
}

// world is two release roots, a (a few distributions) and b (six), under
// dir, which holds nothing else; the child gets TMPDIR and HOME of its
// own, which must stay empty, and a bytecode cache of its own (killed
// mid-write too: later installs must only ever take whole entries from it).
type world struct {
	dir, plans, tmp, home string
	bytecode              string
	py, wh                string
	locks                 [2]string
	compile               bool
	keep                  int
}

func newWorld(t *testing.T, dir string, compile bool, keep int) *world {
	t.Helper()
	set := corpustest.Set(t)
	var big []corpus.Wheel
	for _, n := range []string{"click", "jinja2", "markupsafe", "itsdangerous"} {
		w, ok := set.Get(n)
		if !ok {
			t.Fatalf("%s is not in the corpus", n)
		}
		big = append(big, w)
	}
	six, _ := set.Get("six")
	wh, lockA := house(t, append(big, six))
	lockB := filepath.Join(t.TempDir(), "six.txt")
	if err := corpus.WriteRequirements(lockB, []corpus.Wheel{six}); err != nil {
		t.Fatal(err)
	}
	// lockA pins six too: a's release is all five
	if dir == "" {
		dir = t.TempDir()
	}
	return &world{dir: dir, plans: t.TempDir(), tmp: t.TempDir(), home: t.TempDir(), bytecode: t.TempDir(), py: corpustest.Python(t), wh: wh,
		locks: [2]string{lockA, lockB}, compile: compile, keep: keep}
}

func (w *world) root(i int) string { return filepath.Join(w.dir, []string{"a", "b"}[i]) }

// command is `pipbake install -f plan.json` of release, the sets in the
// given order of roots.
func (w *world) command(t *testing.T, bin, release string, order ...int) *exec.Cmd {
	t.Helper()
	if len(order) == 0 {
		order = []int{0, 1}
	}
	var pl plan.Plan
	pl.Wheelhouse, pl.Release = w.wh, release
	for _, i := range order {
		compile, keep := w.compile, w.keep
		pl.Sets = append(pl.Sets, plan.Set{Name: []string{"a", "b"}[i], Lock: w.locks[i], Root: w.root(i), Python: w.py, Compile: &compile, Keep: &keep})
	}
	data, err := json.Marshal(pl)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(w.plans, release+fmt.Sprint(order)+".json")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "install", "-f", p, "--quiet")
	cmd.Env = append(target.CleanEnv(os.Environ()), "TMPDIR="+w.tmp, "HOME="+w.home, pyccache.Env+"="+w.bytecode)
	return cmd
}

// check asserts the invariants after a run, killed or not: each root's
// current is absent (when "" is allowed) or one of allowed, complete and
// verified; nothing is outside the roots.
func (w *world) check(t *testing.T, what string, allowed ...string) {
	t.Helper()
	for i := range 2 {
		root := w.root(i)
		cur := ""
		if _, err := os.Lstat(filepath.Join(root, "current")); err == nil {
			cur = currentOf(t, root)
		}
		if !slices.Contains(allowed, cur) {
			t.Fatalf("%s: %s: current is %q, want one of %q", what, root, cur, allowed)
		}
		if cur != "" {
			rep, err := receipt.Verify(filepath.Join(root, "current"), receipt.Options{})
			if err != nil || !rep.Clean() {
				t.Fatalf("%s: %s: current %s does not verify: %v %s", what, root, cur, err, describe(rep.Problems))
			}
		}
		if es, err := os.ReadDir(root); err == nil {
			for _, e := range es {
				if n := e.Name(); n != ".pipbake.lock" && n != "releases" && n != "current" && !strings.HasPrefix(n, ".current-") {
					t.Fatalf("%s: %s holds %s", what, root, n)
				}
			}
		}
	}
	for _, dir := range []string{w.dir, w.tmp, w.home} {
		es, _ := os.ReadDir(dir)
		for _, e := range es {
			if dir != w.dir || e.Name() != "a" && e.Name() != "b" && e.Name() != "lost+found" {
				t.Fatalf("%s: the install wrote %s", what, filepath.Join(dir, e.Name()))
			}
		}
	}
}

// finish is the next run: it succeeds, both roots are at release, and
// only complete releases that verify are left, and no switch leftovers.
func (w *world) finish(t *testing.T, bin, release string) {
	t.Helper()
	cmd := w.command(t, bin, release)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the run after: %v\n%s", err, out)
	}
	w.check(t, "the run after", release)
	for i := range 2 {
		for _, e := range entries(t, w.root(i)) {
			rep, err := receipt.Verify(filepath.Join(w.root(i), "releases", e), receipt.Options{})
			if err != nil || !rep.Clean() {
				t.Fatalf("the run after left release %s in %s, which does not verify: %v %s", e, w.root(i), err, describe(rep.Problems))
			}
		}
		if left, _ := filepath.Glob(filepath.Join(w.root(i), ".current-*")); len(left) > 0 {
			t.Fatalf("the run after left %v", left)
		}
	}
}

// TestChaosKilled kills the agent (kill -9, the agent alone: the Python
// processes it started are orphaned) at random points of installs with
// and without bytecode, into new roots and roots with releases.
func TestChaosKilled(t *testing.T) {
	bin := agentBinary(t)
	rng := chaosRand(t)
	trials := chaosTrials(t, 20)
	type mode struct{ compile, first bool }
	modes := []mode{{true, true}, {false, true}, {true, false}, {false, false}}
	later := map[bool]*world{}
	took := map[mode]time.Duration{}
	for _, m := range modes {
		w := newWorld(t, "", m.compile, 2)
		start := time.Now()
		w.finish(t, bin, "base")
		took[m] = time.Since(start)
		t.Logf("a full install (bytecode %v) takes %v", m.compile, took[m].Round(time.Millisecond))
		if !m.first {
			later[m.compile] = w
		}
	}
	for i := range trials {
		m := modes[i%len(modes)]
		w := later[m.compile]
		prev := []string{currentOf(t, w.root(0))}
		if m.first {
			w = newWorld(t, "", m.compile, 2)
			prev = []string{""}
		}
		id := fmt.Sprintf("k%d", i)
		delay := time.Duration(rng.Int63n(int64(took[m]) * 11 / 10))
		cmd := w.command(t, bin, id)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Kill()
		err := cmd.Wait()
		what := fmt.Sprintf("trial %d (bytecode %v, first install %v, killed after %v)", i, m.compile, m.first, delay.Round(time.Millisecond))
		if err != nil && !strings.Contains(err.Error(), "killed") {
			t.Fatalf("%s: %v\n%s", what, err, out.String())
		}
		w.check(t, what, append(prev, id)...)
		w.finish(t, bin, id+"-after")
	}
}

// TestChaosDiskFull fills a small file system to a random level before
// each install: it fails with "no space left on device" or succeeds, and
// the next run, with the space back, succeeds.
func TestChaosDiskFull(t *testing.T) {
	bin := agentBinary(t)
	mnt := mountTmpfs(t, "size=32m")
	rng := chaosRand(t)
	w := newWorld(t, filepath.Join(mnt, "w"), true, 2)
	if err := os.Mkdir(w.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	w.finish(t, bin, "base")
	need := freeBytes(t, mnt)
	w.finish(t, bin, "base2")
	need -= freeBytes(t, mnt) // one release of both sets
	fails := 0
	for i := range chaosTrials(t, 8) {
		filler := filepath.Join(mnt, "filler")
		left := rng.Int63n(need * 11 / 10)
		if n := freeBytes(t, mnt) - left; n > 0 {
			if err := os.WriteFile(filler, make([]byte, n), 0o644); err != nil && !strings.Contains(err.Error(), "no space") {
				t.Fatal(err)
			}
		}
		prev := currentOf(t, w.root(0))
		id := fmt.Sprintf("f%d", i)
		cmd := w.command(t, bin, id)
		out, err := cmd.CombinedOutput()
		what := fmt.Sprintf("trial %d (%d bytes free)", i, left)
		if err != nil {
			fails++
			if !strings.Contains(string(out), "no space left on device") {
				t.Fatalf("%s: want a disk full error, got %v\n%s", what, err, out)
			}
		}
		os.Remove(filler)
		w.check(t, what, prev, id)
		w.finish(t, bin, id+"-after")
	}
	if fails == 0 {
		t.Error("no install ran out of space")
	}
}

// TestChaosConcurrent runs several installs into the same two roots at
// once, half of them listing the roots the other way round, two of them
// of the same release: all succeed (none waits forever on the other's
// lock), and each root ends at one of them.
func TestChaosConcurrent(t *testing.T) {
	bin := agentBinary(t)
	w := newWorld(t, "", false, 3)
	ids := []string{"c1", "c2", "c3", "c4", "same", "same"}
	cmds := make([]*exec.Cmd, len(ids))
	outs := make([]strings.Builder, len(ids))
	for i, id := range ids {
		order := []int{0, 1}
		if i%2 == 1 {
			order = []int{1, 0}
		}
		cmds[i] = w.command(t, bin, id, order...)
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
	}
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, len(cmds))
	for _, c := range cmds {
		go func() { done <- c.Wait() }()
	}
	timeout := time.After(3 * time.Minute)
	for range cmds {
		select {
		case err := <-done:
			if err != nil {
				for i := range outs {
					t.Logf("install %s: %s", ids[i], outs[i].String())
				}
				t.Fatalf("a concurrent install failed: %v", err)
			}
		case <-timeout:
			for _, c := range cmds {
				c.Process.Kill()
			}
			t.Fatal("concurrent installs still running after 3 minutes: deadlocked on the roots' locks")
		}
	}
	w.check(t, "concurrent installs", ids...)
	for i := range 2 {
		if n := len(entries(t, w.root(i))); n > 3 {
			t.Errorf("%s keeps %d releases, keep is 3", w.root(i), n)
		}
	}
	w.finish(t, bin, "after")
}
