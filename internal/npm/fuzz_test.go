package npm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseLock: no input crashes the reader, and whatever it accepts is
// safe to lay out: every installable entry has a plain path, a name and
// version that make a plain file name, and an integrity.
func FuzzParseLock(f *testing.F) {
	for _, name := range []string{"express", "large"} {
		if data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "npm", name, "package-lock.json")); err == nil && len(data) < 64<<10 {
			f.Add(data)
		}
	}
	in := `"integrity": "` + sri("x") + `"`
	f.Add([]byte(lockJSON(3, `"node_modules/a": {"version": "1.0.0", `+in+`, "bin": {"a": "../../x", "../b": "y"}}`)))
	f.Add([]byte(lockJSON(2, `"node_modules/w": {"resolved": "packages/w", "link": true}`, `"packages/w": {"version": "1.0.0"}`)))
	f.Add([]byte(lockJSON(3, `"node_modules/d": {"version": "1.0.0", `+in+`}`, `"node_modules/d/node_modules/e": {"version": "1.0.0", "inBundle": true}`)))
	f.Add([]byte(`{"lockfileVersion": 1}`))
	f.Add([]byte(`{"lockfileVersion": 3, "packages": {"node_modules/@s/x": {"version": "1", "integrity": "sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA="}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		lk, err := ParseLock("fuzz.json", data)
		if err != nil {
			if lk != nil {
				t.Fatal("a lock and an error")
			}
			return
		}
		for _, p := range lk.Packages {
			if err := checkKey(p.Path); err != nil {
				t.Fatalf("accepted key %q: %v", p.Path, err)
			}
			for name, target := range p.Bin {
				if name == "" || strings.ContainsAny(name, "/\\") || name == "." || name == ".." {
					t.Fatalf("bin name %q", name)
				}
				if strings.HasPrefix(target, "/") || strings.Contains("/"+target+"/", "/../") {
					t.Fatalf("bin target %q leaves the package", target)
				}
			}
			switch p.Kind() {
			case Registry, Remote, LocalTarball:
				file := TarballFile(p.Name, p.Version)
				if strings.ContainsAny(file, "/\\") || strings.HasPrefix(file, ".") || p.Integrity.IsZero() {
					t.Fatalf("%s: tarball file %q, integrity %v", p.Path, file, p.Integrity)
				}
				if tail := p.RegistryTail(); strings.Contains(tail, "..") || strings.HasPrefix(tail, "/") {
					t.Fatalf("%s: registry path %q", p.Path, tail)
				}
			case Linked:
				if tg := p.LinkTarget(); strings.HasPrefix(tg, "/") || tg == ".." || strings.HasPrefix(tg, "../") {
					t.Fatalf("%s: link target %q", p.Path, tg)
				}
			}
		}
		rt := &Runtime{Version: "20.0.0", Platform: "linux", Arch: "x64", Libc: "glibc"}
		if s, err := lk.Select(rt, SelectOptions{}); err == nil {
			if _, err := HiddenLock(lk, s.Packages); err != nil {
				t.Fatalf("hidden lockfile of an accepted lock: %v", err)
			}
		}
	})
}

// FuzzUnpack: no tarball crashes the unpacker, and nothing it writes
// lands outside the package's folder, or is a link, or is left out of
// its record.
func FuzzUnpack(f *testing.F) {
	mk := func(entries ...[3]string) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		tw := tar.NewWriter(zw)
		for _, e := range entries {
			h := &tar.Header{Name: e[0], Mode: 0o644, Size: int64(len(e[1])), Typeflag: tar.TypeReg}
			switch e[2] {
			case "dir":
				h.Typeflag, h.Size = tar.TypeDir, 0
			case "":
			default:
				h.Typeflag, h.Size, h.Linkname = tar.TypeSymlink, 0, e[2]
			}
			tw.WriteHeader(h)
			tw.Write([]byte(e[1]))
		}
		tw.Close()
		zw.Close()
		return buf.Bytes()
	}
	f.Add(mk([3]string{"package/package.json", "{}", ""}, [3]string{"package/a/b.js", "x", ""}))
	f.Add(mk([3]string{"package/../x", "x", ""}))
	f.Add(mk([3]string{"package/l", "", "../../x"}, [3]string{"package/d/", "", "dir"}))
	f.Add(mk([3]string{"package/.gitignore", "x", ""}, [3]string{"package/x", "1", ""}, [3]string{"package/x", "2", ""}))
	f.Add(mk([3]string{"package/node_modules/other/x", "x", ""}))
	f.Add([]byte("not a tarball"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		root := filepath.Join(parent, "release")
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		u := &unpacker{root: root, umask: 0o022}
		own := map[string]*Package{"node_modules/pkg/node_modules/other": {Path: "node_modules/pkg/node_modules/other"}}
		self := &Package{Path: "node_modules/pkg"}
		spec := unpackSpec{file: "fuzz.tgz", label: "fuzz", dest: "node_modules/pkg", inside: func(rel string) error {
			if q := ownerOf(rel, own); q != nil && q != self {
				return fs.ErrExist
			}
			return nil
		}}
		out, err := u.unpack(data, spec)
		entries, _ := os.ReadDir(parent)
		if len(entries) != 1 {
			t.Fatalf("%d entries beside the release", len(entries))
		}
		recorded := map[string]bool{}
		if err == nil {
			for _, f := range out.files {
				if !strings.HasPrefix(f.rel, "node_modules/pkg/") {
					t.Fatalf("recorded %q outside the package", f.rel)
				}
				recorded[f.rel] = true
			}
		}
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || p == root {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			rel = filepath.ToSlash(rel)
			if d.Type()&fs.ModeSymlink != 0 {
				t.Fatalf("a link was written: %s", rel)
			}
			if rel != "node_modules" && rel != "node_modules/pkg" && !strings.HasPrefix(rel, "node_modules/pkg/") {
				t.Fatalf("%s is outside the package", rel)
			}
			if strings.HasPrefix(rel, "node_modules/pkg/node_modules/other") {
				t.Fatalf("%s is in another package's folder", rel)
			}
			if err == nil && !d.IsDir() && out != nil && !recorded[rel] {
				t.Fatalf("%s was written but not recorded", rel)
			}
			return nil
		})
	})
}

// FuzzRange: no range crashes the reader, and one that reads contains
// the same versions every time.
func FuzzRange(f *testing.F) {
	for _, s := range []string{"^14.17.0 || >=16", ">= 0.6", "1.2 - 2", "~1.2.3-beta.2", "x", "<=1.x", "^0.0.x", ">1.2.3 <2 || 4"} {
		f.Add(s, "20.19.2")
	}
	f.Fuzz(func(t *testing.T, r, v string) {
		rng, err := ParseRange(r)
		if err != nil {
			return
		}
		ver, err := ParseVersion(v)
		if err != nil {
			return
		}
		if first, again := rng.Contains(ver), rng.Contains(ver); first != again {
			t.Fatal("not deterministic")
		}
		if again, err := ParseVersion(ver.String()); err != nil || Compare(again, ver) != 0 {
			t.Fatalf("%q does not read back: %v", ver.String(), err)
		}
	})
}

// FuzzHiddenLock: entries that are JSON come out as the same JSON.
func FuzzHiddenLock(f *testing.F) {
	f.Add(`{"version": "1.0.0", "bin": {"b": "x", "2": "y"}, "cpu": ["x64"], "a": null, "n": 1.5e3, "s": "\u2028<>&\u0001"}`)
	f.Fuzz(func(t *testing.T, raw string) {
		var want any
		if json.Unmarshal([]byte(raw), &want) != nil {
			return
		}
		if _, ok := want.(map[string]any); !ok {
			return
		}
		if checkNestingOK(raw) != nil {
			return
		}
		lk := &Lock{Root: &Package{Name: "x", Version: "1.0.0"}}
		out, err := HiddenLock(lk, []*Package{{Path: "node_modules/a", Raw: json.RawMessage(raw)}})
		if err != nil {
			return
		}
		var got struct {
			Packages map[string]any `json:"packages"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		a, _ := json.Marshal(got.Packages["node_modules/a"])
		b, _ := json.Marshal(want)
		if !bytes.Equal(a, b) {
			t.Fatalf("%s came out as %s", b, a)
		}
	})
}

func checkNestingOK(s string) error {
	_, err := checkNesting([]byte(s))
	return err
}
