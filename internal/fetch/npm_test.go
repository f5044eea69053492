package fetch

import (
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/npm"
	"github.com/pipbake/packer-plugin-pipbake/internal/npm/npmtest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/mototest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/nginxtest"
)

// linuxX64 is the target of most npm fetch tests.
var linuxX64 = &npm.Runtime{Platform: "linux", Arch: "x64", Libc: "glibc"}

func npmOptions(t *testing.T, locks ...*npm.Lock) NPMOptions {
	t.Helper()
	return NPMOptions{Locks: locks, Out: filepath.Join(t.TempDir(), "out"), Runtime: linuxX64, Cache: t.TempDir(),
		NPMRC: []string{}, Log: &testLog{t: t}}
}

// testLog sends a fetch's log lines to the test's log, and keeps them.
type testLog struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(p))
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "")
}

// checkNPMOut checks that out holds exactly the tarballs of the lock's
// packages for the target, each matching the lock, and the index.
func checkNPMOut(t *testing.T, out string, lk *npm.Lock, rt *npm.Runtime) {
	t.Helper()
	sel, err := lk.Select(rt, npm.SelectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*npm.Package{}
	for _, p := range sel.Packages {
		want[npm.TarballFile(p.Name, p.Version)] = p
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, e := range entries {
		if e.Name() == npm.IndexName {
			continue
		}
		p := want[e.Name()]
		if p == nil {
			t.Errorf("%s: not a tarball of the lock for %s", e.Name(), rt)
			continue
		}
		data, err := os.ReadFile(filepath.Join(out, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !p.Integrity.Check(data) {
			t.Errorf("%s does not match %s", e.Name(), p.Integrity)
		}
		got++
	}
	if got != len(want) {
		t.Errorf("%d tarballs, want %d", got, len(want))
	}
	var idx NPMIndex
	data, err := os.ReadFile(filepath.Join(out, npm.IndexName))
	if err != nil || json.Unmarshal(data, &idx) != nil || idx.Schema != 1 || len(idx.Tarballs) != len(want) {
		t.Errorf("index: %v, %d tarballs", err, len(idx.Tarballs))
	}
}

// TestFetchNPMFromRegistry fetches the large fixture from a registry on
// loopback (nginx, npm's tarball layout): exactly the tarballs the lock
// pins for linux x64 glibc (@esbuild/linux-x64, none of the other
// platforms'), each checked; again from the cache with no request; the
// folder installs. For darwin arm64 the other platform package is asked
// for.
func TestFetchNPMFromRegistry(t *testing.T) {
	f := npmtest.Get(t, "large")
	reg := npmtest.Serve(t, f)
	o := npmOptions(t, f.Lock)
	o.Sources = []string{reg.URL}
	res, err := FetchNPM(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	checkNPMOut(t, o.Out, f.Lock, linuxX64)
	if res.Downloaded != len(res.Tarballs) || res.FromCache != 0 || len(res.Skipped) != 26 {
		t.Errorf("downloaded %d of %d, %d from the cache, %d skipped", res.Downloaded, len(res.Tarballs), res.FromCache, len(res.Skipped))
	}
	if _, err := os.Stat(filepath.Join(o.Out, "@esbuild+linux-x64@"+f.Lock.Get("node_modules/@esbuild/linux-x64").Version+".tgz")); err != nil {
		t.Errorf("no @esbuild/linux-x64: %v", err)
	}
	requests := len(reg.Requests())

	again, err := FetchNPM(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if again.FromCache != len(again.Tarballs) || len(reg.Requests()) != requests {
		t.Errorf("second fetch: %d of %d from the cache, %d requests", again.FromCache, len(again.Tarballs), len(reg.Requests())-requests)
	}
	checkNPMOut(t, o.Out, f.Lock, linuxX64)

	sel, err := f.Lock.Select(f.Runtime, npm.SelectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := npm.OpenTarballs(o.Out)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	if testing.Short() {
		// Installing the 363 packages costs 7 s of CPU under make check's
		// -race; there, the folder only has to hold every one of them
		// (internal/npm's tests install; make test installs here too).
		for _, p := range sel.Packages {
			if !tb.Has(npm.TarballFile(p.Name, p.Version)) {
				t.Errorf("the fetched folder has no %s", npm.TarballFile(p.Name, p.Version))
			}
		}
	} else if _, err := npm.Install(context.Background(), npm.InstallOptions{Selection: sel, Tarballs: tb, Dir: t.TempDir()}); err != nil {
		t.Fatalf("install from the fetched folder: %v", err)
	}

	mac := npmOptions(t, f.Lock)
	mac.Sources = []string{reg.URL}
	mac.Runtime = &npm.Runtime{Platform: "darwin", Arch: "arm64"}
	_, err = FetchNPM(context.Background(), mac)
	if !errors.Is(err, NotFound) || !strings.Contains(err.Error(), "@esbuild/darwin-arm64@") || strings.Contains(err.Error(), "linux-x64") {
		t.Fatalf("darwin arm64: %v", err)
	}
	if _, err := os.Stat(mac.Out); !os.IsNotExist(err) {
		t.Errorf("a failed fetch wrote %s", mac.Out)
	}
}

// synthLock writes a lock of made-up packages whose tarballs are in dir,
// in a registry's layout; resolved is "" (registry, no resolved), or a
// base URL the lock's resolved URLs start with.
func synthLock(t *testing.T, dir, resolved string, pkgs map[string][]byte) *npm.Lock {
	t.Helper()
	packages := map[string]any{"": map[string]any{"name": "s", "version": "1.0.0"}}
	for name, data := range pkgs {
		rel := npm.RegistryPath(name, "1.0.0")
		p := filepath.Join(dir, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha512.Sum512(data)
		e := map[string]any{"version": "1.0.0", "integrity": "sha512-" + base64.StdEncoding.EncodeToString(sum[:])}
		if resolved != "" {
			e["resolved"] = resolved + rel
		}
		packages["node_modules/"+name] = e
	}
	data, _ := json.Marshal(map[string]any{"name": "s", "version": "1.0.0", "lockfileVersion": 3, "packages": packages})
	lp := filepath.Join(t.TempDir(), "package-lock.json")
	os.WriteFile(lp, data, 0o644)
	lk, err := npm.ReadLock(lp)
	if err != nil {
		t.Fatal(err)
	}
	return lk
}

// TestFetchNPMAuth: .npmrc tokens go to their registry and nowhere else
// (not to another origin a redirect leads to), never appear in output,
// errors or the index; a refusal says what was sent.
func TestFetchNPMAuth(t *testing.T) {
	const token = "npm_s3cretTokenValue"
	dir := t.TempDir()
	var otherAuth []string
	var mu sync.Mutex
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		otherAuth = append(otherAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		http.ServeFile(w, r, filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(r.URL.Path, "/"))))
	}))
	defer other.Close()
	reg := nginxtest.Start(t, nginxtest.Options{Root: dir, Server: `
    location /moved/ {
      if ($http_authorization != "Bearer ` + token + `") { return 401; }
      rewrite ^/moved/(.*)$ ` + other.URL + `/$1 redirect;
    }
    location / {
      if ($http_authorization != "Bearer ` + token + `") { return 401; }
    }`})
	lk := synthLock(t, dir, "", map[string][]byte{"a": []byte("tarball a"), "@s/b": []byte("tarball b")})
	rc := filepath.Join(t.TempDir(), ".npmrc")
	os.WriteFile(rc, []byte("registry=https://registry.example.invalid/\n//"+strings.TrimPrefix(reg.URL, "http://")+"/:_authToken=${PIPBAKE_TEST_NPM_TOKEN}\n"), 0o600)
	t.Setenv("PIPBAKE_TEST_NPM_TOKEN", token)

	o := npmOptions(t, lk)
	o.Sources = []string{reg.URL + "/"}
	o.NPMRC = []string{rc}
	res, err := FetchNPM(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	checkNPMOut(t, o.Out, lk, linuxX64)
	idx, _ := os.ReadFile(filepath.Join(o.Out, npm.IndexName))
	out, _ := json.Marshal(res)
	if strings.Contains(string(idx)+string(out)+o.Log.(*testLog).String(), token) {
		t.Error("the token appears in the index, the result or the log")
	}

	t.Run("refused", func(t *testing.T) {
		o := npmOptions(t, lk)
		o.Sources = []string{reg.URL + "/"}
		_, err := FetchNPM(context.Background(), o)
		if !errors.Is(err, AccessDenied) || !strings.Contains(err.Error(), "no credentials were sent: put //"+strings.TrimPrefix(reg.URL, "http://")+"/:_authToken=TOKEN in .npmrc") {
			t.Fatalf("without the .npmrc: %v", err)
		}
		os.WriteFile(rc, []byte("//"+strings.TrimPrefix(reg.URL, "http://")+"/:_authToken=wrong-"+token+"\n"), 0o600)
		o.NPMRC = []string{rc}
		o.Out = filepath.Join(t.TempDir(), "out")
		_, err = FetchNPM(context.Background(), o)
		if !errors.Is(err, AccessDenied) || !strings.Contains(err.Error(), "the credentials sent were refused") || strings.Contains(err.Error(), token) {
			t.Fatalf("with a wrong token: %v", err)
		}
	})

	t.Run("redirect to another origin", func(t *testing.T) {
		os.WriteFile(rc, []byte("//"+strings.TrimPrefix(reg.URL, "http://")+"/:_authToken="+token+"\n"), 0o600)
		o := npmOptions(t, lk)
		o.Sources = []string{reg.URL + "/moved/"}
		o.NPMRC = []string{rc}
		if _, err := FetchNPM(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(otherAuth) == 0 {
			t.Fatal("the redirect was not followed")
		}
		for _, a := range otherAuth {
			if a != "" {
				t.Errorf("the other origin got Authorization %q", a)
			}
		}
	})
}

// TestFetchNPMIntegrityMismatch: a registry serving other bytes than the
// lock pins is refused, naming the package, the lock entry and both
// hashes; the output is not written and nothing enters the cache.
func TestFetchNPMIntegrityMismatch(t *testing.T) {
	dir := t.TempDir()
	lk := synthLock(t, dir, "", map[string][]byte{"a": []byte("good a"), "b": []byte("good b")})
	os.WriteFile(filepath.Join(dir, "a/-/a-1.0.0.tgz"), []byte("evil a"), 0o644)
	reg := nginxtest.Start(t, nginxtest.Options{Root: dir})
	o := npmOptions(t, lk)
	o.Sources = []string{reg.URL}
	_, err := FetchNPM(context.Background(), o)
	if !errors.Is(err, HashMismatch) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"a@1.0.0 (" + lk.Path + ":", "node_modules/a)", "served a@1.0.0.tgz (" + reg.URL + "/a/-/a-1.0.0.tgz) with integrity sha512-", "allows sha512-"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if _, err := os.Stat(o.Out); !os.IsNotExist(err) {
		t.Errorf("a failed fetch wrote %s", o.Out)
	}
	var cached []string
	filepath.WalkDir(filepath.Join(o.Cache, "sha512"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".json") {
			cached = append(cached, p)
		}
		return nil
	})
	if len(cached) != 1 {
		t.Errorf("the cache holds %d tarballs, want only b's", len(cached))
	}
}

// TestFetchNPMOwnLocations: without --source, each package comes from
// where its lock says: its resolved URL, the registry for a lock written
// without resolved, a file: path beside the lock; a folder source in
// the registry's layout or of fetched names works offline.
func TestFetchNPMOwnLocations(t *testing.T) {
	dir := t.TempDir()
	reg := nginxtest.Start(t, nginxtest.Options{Root: dir})
	lk := synthLock(t, dir, reg.URL+"/", map[string][]byte{"a": []byte("a"), "@s/b": []byte("b")})
	o := npmOptions(t, lk)
	if _, err := FetchNPM(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	checkNPMOut(t, o.Out, lk, linuxX64)

	noResolved := synthLock(t, dir, "", map[string][]byte{"a": []byte("a")})
	rc := filepath.Join(t.TempDir(), ".npmrc")
	os.WriteFile(rc, []byte("registry="+reg.URL+"/\n"), 0o644)
	o = npmOptions(t, noResolved)
	o.NPMRC = []string{rc}
	if _, err := FetchNPM(context.Background(), o); err != nil {
		t.Fatalf("no resolved, the .npmrc's registry: %v", err)
	}

	for _, src := range []string{dir, o.Out} {
		o2 := npmOptions(t, lk)
		o2.Sources = []string{src}
		if src == o.Out {
			o2.Locks = []*npm.Lock{noResolved}
		}
		if _, err := FetchNPM(context.Background(), o2); err != nil {
			t.Fatalf("folder %s: %v", src, err)
		}
	}

	// file: beside the lock.
	proj := t.TempDir()
	data := []byte("local tarball")
	os.MkdirAll(filepath.Join(proj, "vendor"), 0o755)
	os.WriteFile(filepath.Join(proj, "vendor", "c-1.0.0.tgz"), data, 0o644)
	sum := sha512.Sum512(data)
	lockText := fmt.Sprintf(`{"lockfileVersion": 3, "packages": {"": {}, "node_modules/c": {"version": "1.0.0", "resolved": "file:vendor/c-1.0.0.tgz", "integrity": "sha512-%s"}}}`, base64.StdEncoding.EncodeToString(sum[:]))
	os.WriteFile(filepath.Join(proj, "package-lock.json"), []byte(lockText), 0o644)
	fl, err := npm.ReadLock(filepath.Join(proj, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	o = npmOptions(t, fl)
	if _, err := FetchNPM(context.Background(), o); err != nil {
		t.Fatalf("file: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(o.Out, "c@1.0.0.tgz")); string(got) != string(data) {
		t.Errorf("c@1.0.0.tgz holds %q", got)
	}
}

// TestFetchNPMLocksDisagree: two locks pinning one name and version with
// different integrity are refused before anything is fetched.
func TestFetchNPMLocksDisagree(t *testing.T) {
	a := synthLock(t, t.TempDir(), "", map[string][]byte{"x": []byte("one")})
	b := synthLock(t, t.TempDir(), "", map[string][]byte{"x": []byte("two")})
	_, err := FetchNPM(context.Background(), npmOptions(t, a, b))
	if err == nil || !strings.Contains(err.Error(), "pins x@1.0.0 with integrity") {
		t.Fatalf("got %v", err)
	}
}

// TestFetchNPMFromS3 fetches from a moto_server bucket in a registry's
// layout under a prefix.
func TestFetchNPMFromS3(t *testing.T) {
	dir := t.TempDir()
	lk := synthLock(t, dir, "", map[string][]byte{"a": []byte("a"), "@s/b": []byte("b")})
	m := mototest.Start(t, mototest.Options{})
	m.CreateBucket(t, "npm")
	for _, rel := range []string{npm.RegistryPath("a", "1.0.0"), npm.RegistryPath("@s/b", "1.0.0")} {
		m.Put(t, "npm", "mirror/"+rel, filepath.Join(dir, filepath.FromSlash(rel)))
	}
	awsEnv(t, mototest.AccessKey, mototest.SecretKey)
	o := npmOptions(t, lk)
	o.Sources = []string{"s3://npm/mirror"}
	o.S3Endpoint = m.Endpoint
	res, err := FetchNPM(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	checkNPMOut(t, o.Out, lk, linuxX64)
	if !strings.HasPrefix(res.Tarballs[0].Source, "s3://npm/mirror/") {
		t.Errorf("source %s", res.Tarballs[0].Source)
	}
	o.Sources = []string{"s3://npm/elsewhere"}
	o.Cache = t.TempDir()
	if _, err := FetchNPM(context.Background(), o); !errors.Is(err, NotFound) {
		t.Errorf("a prefix without them: %v", err)
	}
}
