//go:build !pipbake_agent && linux

package cli

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/npmstore"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyccache"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// TestCachePrune: `pipbake cache size` reports the entries and bytes;
// `pipbake cache prune --max-size` keeps the most recently used entries
// that fit and reports the sizes before and after.
func TestCachePrune(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pyc")
	c, err := pyccache.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	in, err := pyccache.NewInterp("a70d0d0a", "cpython-311", "cpython")
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-72 * time.Hour)
	var newest pyccache.Key
	for i := 0; i < 10; i++ {
		k := pyccache.Key{Source: sha256.Sum256([]byte(fmt.Sprint(i))), Interp: in, Path: "m.py"}
		pyc := binary.LittleEndian.AppendUint32([]byte{0xa7, 0x0d, 0x0d, 0x0a}, 1)
		pyc = append(pyc, make([]byte, 8+1000)...)
		if err := c.Put(k, pyc); err != nil {
			t.Fatal(err)
		}
		id := k.ID().String()
		ts := old.Add(time.Duration(i) * time.Hour)
		os.Chtimes(filepath.Join(dir, "v1", id[:2], id), ts, ts)
		newest = k
	}
	has(t, "size", mustRun(t, "cache", "size", "--dir", dir), "10 entries, 10.9 kB")
	s := mustRun(t, "cache", "prune", "--dir", dir, "--max-size", "2.5kB")
	has(t, "prune", s, "10 entries, 10.9 kB; pruned to 2 entries, 2.2 kB (8 entries, 8.7 kB removed)")
	if _, _, ok := c.Get(newest); !ok {
		t.Error("the most recently used entry was pruned")
	}
	if _, code, _ := pipbake(t, "cache", "prune", "--dir", dir); code != 2 {
		t.Errorf("prune without --max-size: exit %d, want 2", code)
	}
	if _, code, _ := pipbake(t, "cache", "prune", "--dir", dir, "--max-size", "lots"); code != 2 {
		t.Errorf("prune --max-size lots: exit %d, want 2", code)
	}
	if s, code, _ := pipbake(t, "cache", "size", "--dir", dir, "--json"); code != 0 || !strings.Contains(s, `"entries": 2`) {
		t.Errorf("size --json: %d %s", code, s)
	}
}

// TestInstallBytecodeCacheFlag: --bytecode-cache DIR fills DIR; without
// the flag $PIPBAKE_BYTECODE_CACHE does; --bytecode-cache off uses none.
func TestInstallBytecodeCacheFlag(t *testing.T) {
	e := newPlanEnv(t)
	flagDir, envDir := filepath.Join(t.TempDir(), "flag"), filepath.Join(t.TempDir(), "env")
	t.Setenv(pyccache.Env, envDir)
	install := func(release string, extra ...string) {
		t.Helper()
		args := append([]string{"install", "--lock", filepath.Join(e.dir, "s1.txt"), "--wheelhouse", filepath.Join(e.dir, "wheels"),
			"--root", filepath.Join(e.roots, "a"), "--python", e.py, "--release", release, "--quiet"}, extra...)
		mustRun(t, args...)
	}
	entries := func(dir string) int {
		u, _ := pyccache.Measure(dir)
		return u.Entries
	}
	install("r1", "--bytecode-cache", flagDir)
	if entries(flagDir) != 1 || entries(envDir) != 0 { // six: one module
		t.Fatalf("--bytecode-cache: %d entries there, %d in $%s", entries(flagDir), entries(envDir), pyccache.Env)
	}
	install("r2")
	if entries(envDir) != 1 {
		t.Fatalf("$%s: %d entries", pyccache.Env, entries(envDir))
	}
	os.RemoveAll(envDir)
	install("r3", "--bytecode-cache", "off")
	if _, err := os.Stat(envDir); err == nil {
		t.Fatal("--bytecode-cache off used a cache")
	}
}

// TestInstallResultBytecode: the bytecode counts are in install's result
// (--json, and --result-file, which writes the same JSON readable by
// all), not in the receipt; a cold and a warm install of the same lock
// give byte-identical receipts. A result file that cannot be written is
// a warning: the install stands.
func TestInstallResultBytecode(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1764133200")
	e := newPlanEnv(t)
	cache := filepath.Join(t.TempDir(), "pyc")
	root := filepath.Join(e.roots, "a")
	type result struct {
		Set      string `json:"set"`
		Path     string `json:"path"`
		Bytecode *struct {
			Compiled int `json:"compiled"`
			Cached   int `json:"cached"`
		} `json:"bytecode"`
	}
	install := func(resultFile string) (result, []byte, string) {
		t.Helper()
		out, stderr, code := captured(t, "install", "--lock", filepath.Join(e.dir, "s1.txt"), "--wheelhouse", filepath.Join(e.dir, "wheels"),
			"--root", root, "--python", e.py, "--release", "r1", "--bytecode-cache", cache, "--json", "--result-file", resultFile)
		if code != 0 {
			t.Fatalf("install: exit %d\n%s%s", code, out, stderr)
		}
		var rs []result
		if err := json.Unmarshal([]byte(out), &rs); err != nil || len(rs) != 1 || rs[0].Bytecode == nil {
			t.Fatalf("install --json: %v\n%s", err, out)
		}
		rc, err := os.ReadFile(filepath.Join(rs[0].Path, receipt.FileName))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(rc), `"cached"`) {
			t.Errorf("the receipt counts the bytecode:\n%s", rc)
		}
		if data, err := os.ReadFile(resultFile); err == nil && string(data) != out {
			t.Errorf("the result file is not what --json printed:\n%s\n---\n%s", data, out)
		}
		return rs[0], rc, stderr
	}
	file := filepath.Join(t.TempDir(), "result.json")
	cold, rc1, _ := install(file)
	if b := cold.Bytecode; b.Compiled != 1 || b.Cached != 0 { // six: one module
		t.Fatalf("cold install: %+v", *b)
	}
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("result file: %v %v, want mode 0644", st, err)
	}
	os.Rename(root, root+"-cold")
	warm, rc2, stderr := install(filepath.Join(t.TempDir(), "missing", "result.json"))
	if b := warm.Bytecode; b.Compiled != 0 || b.Cached != 1 {
		t.Fatalf("warm install: %+v", *b)
	}
	if string(rc1) != string(rc2) {
		t.Errorf("the cold and the warm install's receipts differ:\n%s\n---\n%s", rc1, rc2)
	}
	if !strings.Contains(stderr, "pipbake: warning: write the result file") {
		t.Errorf("no warning for a result file that cannot be written:\n%s", stderr)
	}
}

// TestCacheNpm: `pipbake cache size|prune --npm` report and prune the
// store of unpacked npm packages, least recently used first.
func TestCacheNpm(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "npm")
	st, err := npmstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "index.js")
	body := strings.Repeat("x", 1000)
	os.WriteFile(src, []byte(body), 0o644)
	for i := 0; i < 3; i++ {
		in := fmt.Sprintf("sha512-%d", i)
		if err := st.Put(in, []npmstore.PutFile{{Path: "index.js", Mode: 0o666, SHA256: sha256.Sum256([]byte(body)), Source: src}}); err != nil {
			t.Fatal(err)
		}
	}
	has(t, "size", mustRun(t, "cache", "size", "--npm", "--dir", dir), "3 packages, ")
	has(t, "prune", mustRun(t, "cache", "prune", "--npm", "--dir", dir, "--max-size", "1.5kB"), "pruned to 1 packages")
	if u, err := npmstore.Measure(dir); err != nil || u.Packages != 1 {
		t.Fatalf("after prune: %+v %v", u, err)
	}
}
