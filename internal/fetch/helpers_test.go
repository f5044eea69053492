package fetch

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/lock"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheel"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelhouse"
)

func init() {
	// Tests wait for retries in milliseconds, not seconds.
	backoffBase = 5 * time.Millisecond
}

// target311 is CPython 3.11 on glibc 2.36 x86_64, described by flags.
var target311 = target.Description{PythonVersion: "3.11.7", Platforms: []string{"manylinux_2_36_x86_64"}}

// dist is a made-up distribution file.
type dist struct {
	file string
	data []byte
}

func (d dist) sha() string {
	s := sha256.Sum256(d.data)
	return hex.EncodeToString(s[:])
}

// mkdist makes a distribution file: for a wheel, a small real one (a
// module and a .dist-info with METADATA), for an sdist any bytes.
func mkdist(file string) dist { return mkwheel(file, "") }

// mkwheel makes a wheel whose METADATA has this Requires-Python ("" none).
// The same arguments always give the same bytes.
func mkwheel(file, requiresPython string) dist {
	n, err := wheel.ParseName(file)
	if err != nil {
		return dist{file: file, data: []byte("contents of " + file + strings.Repeat(".", 2000))}
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name, content string) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Modified: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			panic(err)
		}
		w.Write([]byte(content))
	}
	distInfo := n.Distribution + "-" + n.Version + ".dist-info"
	add(n.Distribution+"/__init__.py", "# contents of "+file+"\n#"+strings.Repeat(".", 2000)+"\n")
	meta := "Metadata-Version: 2.1\nName: " + n.Distribution + "\nVersion: " + n.Version + "\n"
	if requiresPython != "" {
		meta += "Requires-Python: " + requiresPython + "\n"
	}
	add(distInfo+"/METADATA", meta+"\nA made-up distribution.\n")
	add(distInfo+"/WHEEL", "Wheel-Version: 1.0\nGenerator: pipbake-test\nRoot-Is-Purelib: true\n")
	add(distInfo+"/RECORD", "")
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return dist{file: file, data: buf.Bytes()}
}

// writeDists writes files into dir.
func writeDists(t *testing.T, dir string, ds ...dist) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if err := os.WriteFile(filepath.Join(dir, d.file), d.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// req is one pin of a requirements lock.
type req struct {
	name, version string
	hashes        []string
}

func pinOf(name, version string, ds ...dist) req {
	r := req{name: name, version: version}
	for _, d := range ds {
		r.hashes = append(r.hashes, d.sha())
	}
	return r
}

// writeLock writes and parses a hashed requirements lock; header lines
// (such as --index-url) come first.
func writeLock(t *testing.T, path string, header []string, reqs ...req) *lock.Lock {
	t.Helper()
	var b strings.Builder
	for _, h := range header {
		b.WriteString(h + "\n")
	}
	for _, r := range reqs {
		fmt.Fprintf(&b, "%s==%s", r.name, r.version)
		for _, h := range r.hashes {
			fmt.Fprintf(&b, " \\\n    --hash=sha256:%s", h)
		}
		b.WriteString("\n")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	lk, err := lock.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return lk
}

// options returns Options for target311 with a fresh cache and output.
func options(t *testing.T, locks ...*lock.Lock) Options {
	t.Helper()
	tg, err := target311.Tags()
	if err != nil {
		t.Fatal(err)
	}
	env, err := target311.Markers()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	return Options{Locks: locks, Out: filepath.Join(dir, "out"), Tags: tg, Env: env, Cache: filepath.Join(dir, "cache")}
}

// readIndex reads out/wheelhouse.json.
func readIndex(t *testing.T, out string) wheelhouse.Index {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, wheelhouse.IndexName))
	if err != nil {
		t.Fatal(err)
	}
	var idx wheelhouse.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatal(err)
	}
	return idx
}

// snapshot lists a folder tree as "path size" lines, for comparing
// before and after.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, _ := d.Info()
		data := []byte{}
		if !d.IsDir() {
			data, _ = os.ReadFile(p)
		}
		s := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s %v %x\n", strings.TrimPrefix(p, dir), fi.Mode(), s[:4])
		return nil
	})
	return b.String()
}

// cacheFiles lists the files in the cache's sha256/ and tmp/ folders.
func cacheFiles(t *testing.T, cache string) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"sha256", "tmp"} {
		filepath.WalkDir(filepath.Join(cache, sub), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				out = append(out, strings.TrimPrefix(p, cache+"/"))
			}
			return nil
		})
	}
	return out
}

// checkCache checks that every file in the cache is whole (its bytes hash
// to its name) and that no download is left in tmp/.
func checkCache(t *testing.T, cache string) {
	t.Helper()
	for _, f := range cacheFiles(t, cache) {
		if strings.HasPrefix(f, "tmp/") {
			t.Errorf("left in the cache: %s", f)
			continue
		}
		if strings.HasSuffix(f, ".json") {
			continue
		}
		if got, _, err := wheelhouse.HashFile(filepath.Join(cache, f)); err != nil || got != filepath.Base(f) {
			t.Errorf("cache file %s has sha256 %s (%v)", f, got, err)
		}
	}
}

// failTransport fails every request: proof that nothing was fetched.
type failTransport struct{ t *testing.T }

func (f failTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.t.Errorf("unexpected network request: %s %s", r.Method, r.URL)
	return nil, fmt.Errorf("no network in this test")
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// logBuffer collects Log output.
type logBuffer struct{ bytes.Buffer }
