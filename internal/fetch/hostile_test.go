package fetch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/lock"
)

// escaping is a wheel file name that parses (five parts, .whl) and, joined
// to a folder, names a file two levels up.
const escaping = "hostile-1.0-py3./../../X-none-any.whl"

// strayFiles lists what lies under base outside out and cache: proof
// that no file was written outside --out.
func strayFiles(t *testing.T, base string, keep ...string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == base {
			return nil
		}
		for _, k := range keep {
			if p == k || strings.HasPrefix(p, k+string(filepath.Separator)) {
				if d.IsDir() && p == k {
					return filepath.SkipDir
				}
				return nil
			}
		}
		out = append(out, strings.TrimPrefix(p, base+"/"))
		return nil
	})
	return out
}

// hostileSetup is options whose out and cache lie in one folder, base.
func hostileSetup(t *testing.T, locks ...*lock.Lock) (Options, string) {
	o := options(t, locks...)
	base := filepath.Dir(o.Out)
	return o, base
}

// TestHostileNameInPylock: a pylock.toml wheel whose name carries "/../"
// inside a tag is refused, naming the lock; nothing is written outside
// --out. (Before, the wheel was written two folders up from the staging
// folder, beside --out, and the fetch succeeded.)
func TestHostileNameInPylock(t *testing.T) {
	h := mkdist("hostile-1.0-py3-none-any.whl")
	x := newFakeIndex(t)
	x.fault = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path == "/blob" {
			w.Write(h.data)
			return true
		}
		return false
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "pylock.toml")
	os.WriteFile(p, fmt.Appendf(nil, "lock-version = \"1.0\"\ncreated-by = \"t\"\n\n[[packages]]\nname = \"hostile\"\nversion = \"1.0\"\n"+
		"wheels = [{ name = %q, url = %q, hashes = { sha256 = %q } }]\n", escaping, x.srv.URL+"/blob", h.sha()), 0o644)
	lk, err := lock.ParseFile(p)
	if err != nil {
		t.Fatal(err)
	}
	o, base := hostileSetup(t, lk)
	_, err = Fetch(context.Background(), o)
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), p) {
		t.Errorf("err = %v", err)
	}
	if s := strayFiles(t, base, o.Out, o.Cache); len(s) > 0 {
		t.Errorf("written outside --out: %v", s)
	}
	if _, err := os.Stat(o.Out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("out was made: %v", err)
	}
}

// TestHostileNameInIndexPage: a PEP 503 anchor whose URL ends in no file
// name (so its text is used) and a PEP 691 filename, each carrying "/../",
// make the page malformed, naming the refused name; nothing is written
// outside --out. (Before, the wheel was written beside --out.)
func TestHostileNameInIndexPage(t *testing.T) {
	h := mkdist("hostile-1.0-py3-none-any.whl")
	for _, asJSON := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", asJSON), func(t *testing.T) {
			x := newFakeIndex(t)
			x.fault = func(w http.ResponseWriter, r *http.Request, n int) bool {
				switch r.URL.Path {
				case "/simple/hostile/":
					if asJSON {
						w.Header().Set("Content-Type", typeJSON)
						json.NewEncoder(w).Encode(map[string]any{"meta": map[string]string{"api-version": "1.0"}, "name": "hostile",
							"files": []map[string]any{{"filename": escaping, "url": "/blob", "hashes": map[string]string{"sha256": h.sha()}}}})
						return true
					}
					w.Header().Set("Content-Type", "text/html")
					fmt.Fprintf(w, `<html><body><a href="/blob/#sha256=%s">%s</a></body></html>`, h.sha(), escaping)
					return true
				case "/blob", "/blob/":
					w.Write(h.data)
					return true
				}
				return false
			}
			lk := writeLock(t, filepath.Join(t.TempDir(), "r.txt"), []string{"--index-url " + x.URL()}, pinOf("hostile", "1.0", h))
			o, base := hostileSetup(t, lk)
			_, err := Fetch(context.Background(), o)
			t.Log(err)
			if !errors.Is(err, MalformedIndex) || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), "r.txt:2") {
				t.Errorf("err = %v", err)
			}
			if s := strayFiles(t, base, o.Out, o.Cache); len(s) > 0 {
				t.Errorf("written outside --out: %v", s)
			}
		})
	}
}

// TestHostileChoiceInCache: a remembered choice in the cache whose file
// name carries "/../" is not used: the fetch resolves again and writes a
// correct wheelhouse, nothing outside --out. (Before, the cached wheel
// was placed beside --out under the escaping name, with no request.)
func TestHostileChoiceInCache(t *testing.T) {
	x := newFakeIndex(t, demoAny)
	lk := writeLock(t, filepath.Join(t.TempDir(), "r.txt"), []string{"--index-url " + x.URL()}, pinOf("demo", "1.0", demoAny))
	o, base := hostileSetup(t, lk)
	if _, err := Fetch(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	choices, _ := filepath.Glob(filepath.Join(o.Cache, "choices", "*.json"))
	if len(choices) != 1 {
		t.Fatalf("choices: %v", choices)
	}
	var ch map[string]string
	data, _ := os.ReadFile(choices[0])
	json.Unmarshal(data, &ch)
	ch["file"] = "demo-1.0-py3./../../X-none-any.whl"
	data, _ = json.Marshal(ch)
	os.WriteFile(choices[0], data, 0o644)

	first := o.Out
	o.Out = filepath.Join(base, "again")
	if _, err := Fetch(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if idx := readIndex(t, o.Out); len(idx.Wheels) != 1 || idx.Wheels[0].File != demoAny.file {
		t.Errorf("index: %+v", idx)
	}
	if s := strayFiles(t, base, first, o.Out, o.Cache); len(s) > 0 {
		t.Errorf("written outside --out: %v", s)
	}
}
