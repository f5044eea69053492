// Package npmtest is TEST-ONLY: real Node.js projects for tests and
// benchmarks. Their package.json and package-lock.json are committed under
// testdata/npm/<name>; the tarballs their locks pin are downloaded from
// the npm registry once, checked against the locks' integrity, and kept
// under ${PIPBAKE_DEV_CACHE:-~/.cache/pipbake-dev}/npm. It lays them out
// as a folder pipbake fetch would write, serves them from nginx on
// 127.0.0.1 in a registry's tarball layout, and runs the machine's npm
// (`npm ci` from the same tarballs, offline) for comparisons.
//
// Where node, npm or the registry is missing, a test skips, or fails
// when PIPBAKE_E2E_REQUIRED is set (as CI sets it).
package npmtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/npm"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/nginxtest"
)

// Names are the committed fixtures.
var Names = []string{"express", "large"}

// Fixture is one committed project with its tarballs at hand.
type Fixture struct {
	Name string
	// Dir holds package.json and package-lock.json (in the repository).
	Dir  string
	Lock *npm.Lock
	// Runtime is this machine's node; Selection the lock's packages for
	// it, dev dependencies included.
	Runtime   *npm.Runtime
	Selection *npm.Selection
	// Tarballs maps each selected package's TarballFile name to its file
	// in the cache.
	Tarballs map[string]string
	// Registry maps each tarball's registry path
	// ("@babel/core/-/core-7.26.0.tgz") to its file in the cache.
	Registry map[string]string
}

// CacheDir is ${PIPBAKE_DEV_CACHE:-~/.cache/pipbake-dev}/npm.
func CacheDir() (string, error) {
	if d := os.Getenv("PIPBAKE_DEV_CACHE"); d != "" {
		return filepath.Join(d, "npm"), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "pipbake-dev", "npm"), nil
}

// Node returns this machine's node runtime, skipping the test when there
// is none.
func Node(tb testing.TB) *npm.Runtime {
	tb.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		testenv.Missing(tb, "node is not installed (apt-get install nodejs npm)")
	}
	rt, err := npm.Probe(context.Background(), npm.Local{}, "node")
	if err != nil {
		tb.Fatalf("probe node: %v", err)
	}
	return rt
}

// NPM returns this machine's npm, skipping the test when there is none.
func NPM(tb testing.TB) string {
	tb.Helper()
	p, err := exec.LookPath("npm")
	if err != nil {
		testenv.Missing(tb, "npm is not installed (apt-get install npm)")
	}
	return p
}

var (
	mu       sync.Mutex
	fixtures = map[string]*Fixture{}
)

// Get returns a fixture with its tarballs in the cache, downloading the
// missing ones (once per cache).
func Get(tb testing.TB, name string) *Fixture {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if f := fixtures[name]; f != nil {
		return f
	}
	rt := Node(tb)
	dir := filepath.Join(testenv.ModuleDir(tb), "testdata", "npm", name)
	lk, err := npm.ReadLock(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		tb.Fatalf("fixture %s: %v", name, err)
	}
	sel, err := lk.Select(rt, npm.SelectOptions{IncludeDev: true})
	if err != nil {
		tb.Fatalf("fixture %s: %v", name, err)
	}
	cache, err := CacheDir()
	if err != nil {
		tb.Fatal(err)
	}
	f := &Fixture{Name: name, Dir: dir, Lock: lk, Runtime: rt, Selection: sel, Tarballs: map[string]string{}, Registry: map[string]string{}}
	if err := download(tb, cache, sel.Packages, f); err != nil {
		testenv.Missing(tb, "fixture %s: download its tarballs from the npm registry: %v", name, err)
	}
	fixtures[name] = f
	return f
}

// download puts every tarball of pkgs into cache/tarballs, named by its
// integrity, eight at once.
func download(tb testing.TB, cache string, pkgs []*npm.Package, f *Fixture) error {
	dir := filepath.Join(cache, "tarballs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	unlock, err := lockDir(cache)
	if err != nil {
		return err
	}
	defer unlock()
	type item struct {
		p    *npm.Package
		dest string
	}
	var todo []item
	for _, p := range pkgs {
		switch p.Kind() {
		case npm.Registry, npm.Remote:
		default:
			continue
		}
		dest := filepath.Join(dir, p.Integrity.Algorithm+"-"+p.Integrity.Hex()+".tgz")
		f.Tarballs[npm.TarballFile(p.Name, p.Version)] = dest
		f.Registry[p.RegistryTail()] = dest
		if _, err := os.Stat(dest); err != nil {
			todo = append(todo, item{p, dest})
		}
	}
	if len(todo) == 0 {
		return nil
	}
	tb.Logf("npmtest: downloading %d tarballs into %s", len(todo), dir)
	client := &http.Client{Timeout: 5 * time.Minute}
	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, it := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			u := it.p.Resolved
			if u == "" {
				u = "https://registry.npmjs.org/" + npm.RegistryPath(it.p.Name, it.p.Version)
			}
			var err error
			for try := 0; try < 3; try++ {
				if err = fetchOne(client, u, it.p, it.dest); err == nil {
					return
				}
				time.Sleep(time.Duration(try+1) * time.Second)
			}
			errs[i] = fmt.Errorf("%s: %w", u, err)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func fetchOne(client *http.Client, u string, p *npm.Package, dest string) error {
	resp, err := client.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, npm.MaxTarballBytes))
	if err != nil {
		return err
	}
	if !p.Integrity.Check(data) {
		return fmt.Errorf("does not match the lock's integrity %s", p.Integrity)
	}
	tmp := dest + ".tmp"
	if err := os.WriteFile(tmp, data, 0o444); err != nil {
		return err
	}
	return os.Rename(tmp, dest)
}

func lockDir(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// Folder makes a folder of the fixture's tarballs under their
// TarballFile names, as pipbake fetch writes it (symlinks into the cache).
func (f *Fixture) Folder(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	for name, src := range f.Tarballs {
		if err := os.Symlink(src, filepath.Join(dir, name)); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// Registry serves the tarballs of fixtures from nginx on 127.0.0.1 in a
// registry's layout (<name>/-/<base>-<version>.tgz).
type Registry struct {
	URL string // with a trailing slash
	Dir string
	*nginxtest.Server
}

// Serve starts a registry of the fixtures' tarballs.
func Serve(tb testing.TB, fs ...*Fixture) *Registry {
	tb.Helper()
	dir := tb.TempDir()
	for _, f := range fs {
		for rel, src := range f.Registry {
			dst := filepath.Join(dir, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				tb.Fatal(err)
			}
			if err := os.Symlink(src, dst); err != nil && !os.IsExist(err) {
				tb.Fatal(err)
			}
		}
	}
	s := nginxtest.Start(tb, nginxtest.Options{Root: dir})
	return &Registry{URL: s.URL + "/", Dir: dir, Server: s}
}

// Project copies the fixture's package.json and package-lock.json into
// a new folder and returns it.
func (f *Fixture) Project(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	for _, n := range []string{"package.json", "package-lock.json"} {
		data, err := os.ReadFile(filepath.Join(f.Dir, n))
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// NPMCI runs `npm ci --ignore-scripts --offline` (with --omit=dev unless
// dev) in a copy of the fixture's project, from an npm cache that holds
// exactly the fixture's tarballs, and returns the project folder.
func (f *Fixture) NPMCI(tb testing.TB, dev bool) string {
	tb.Helper()
	npmBin := NPM(tb)
	cache := f.npmCache(tb, npmBin)
	dir := f.Project(tb)
	args := []string{"ci", "--ignore-scripts", "--offline", "--no-audit", "--no-fund", "--loglevel=error"}
	if !dev {
		args = append(args, "--omit=dev")
	}
	RunNPM(tb, npmBin, dir, cache, args...)
	return dir
}

// npmCache is an npm cache holding the fixture's tarballs, made once.
func (f *Fixture) npmCache(tb testing.TB, npmBin string) string {
	tb.Helper()
	root, err := CacheDir()
	if err != nil {
		tb.Fatal(err)
	}
	h := sha256.New()
	var files []string
	for _, src := range f.Tarballs {
		files = append(files, src)
	}
	sort.Strings(files)
	for _, s := range files {
		fmt.Fprintln(h, filepath.Base(s))
	}
	dir := filepath.Join(root, "npm-cache", f.Name+"-"+hex.EncodeToString(h.Sum(nil))[:16])
	unlock, err := lockDir(filepath.Join(root, "npm-cache"))
	if err != nil {
		tb.Fatal(err)
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir
	}
	os.RemoveAll(dir)
	for len(files) > 0 {
		n := min(len(files), 200)
		RunNPM(tb, npmBin, tb.TempDir(), dir, append([]string{"cache", "add", "--loglevel=error"}, files[:n]...)...)
		files = files[n:]
	}
	if err := os.WriteFile(filepath.Join(dir, ".complete"), nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// RunNPM runs npm in dir with cache as its cache, no user or global
// configuration and none of this process's npm_* variables, failing the
// test with its output.
func RunNPM(tb testing.TB, npmBin, dir, cache string, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rcDir := tb.TempDir()
	rc, grc := filepath.Join(rcDir, "npmrc"), filepath.Join(rcDir, "global-npmrc")
	for _, p := range []string{rc, grc} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	cmd := exec.CommandContext(ctx, npmBin, args...)
	cmd.Dir = dir
	cmd.Env = CleanEnv(os.Environ())
	cmd.Env = append(cmd.Env, "npm_config_userconfig="+rc, "npm_config_globalconfig="+grc, "npm_config_cache="+cache,
		"npm_config_update_notifier=false", "npm_config_fund=false", "npm_config_audit=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		shown := args
		if len(shown) > 8 {
			shown = append(shown[:8:8], fmt.Sprintf("(and %d more)", len(args)-8))
		}
		tb.Fatalf("npm %s in %s: %v\n%s", strings.Join(shown, " "), dir, err, out)
	}
	return string(out)
}

// CleanEnv drops the npm_* and NODE_* variables of env.
func CleanEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(strings.ToLower(k), "npm_") || strings.HasPrefix(k, "NODE_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}
