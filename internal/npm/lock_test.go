package npm

import (
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func sri(data string) string {
	s := sha512.Sum512([]byte(data))
	return "sha512-" + base64.StdEncoding.EncodeToString(s[:])
}

// lockJSON makes a lock file with the given "packages" members (JSON
// text of each value), the root entry first.
func lockJSON(version int, members ...string) string {
	return fmt.Sprintf(`{
  "name": "app",
  "version": "1.0.0",
  "lockfileVersion": %d,
  "requires": true,
  "packages": {
    "": {"name": "app", "version": "1.0.0", "dependencies": {"a": "^1.0.0"}}%s
  }
}
`, version, func() string {
		var b strings.Builder
		for _, m := range members {
			b.WriteString(",\n    " + m)
		}
		return b.String()
	}())
}

func TestParseLockAccepts(t *testing.T) {
	good := `"node_modules/a": {"version": "1.0.0", "resolved": "https://registry.npmjs.org/a/-/a-1.0.0.tgz", "integrity": "` + sri("a") + `", "bin": {"a": "cli.js"}, "license": "MIT"}`
	for _, v := range []int{2, 3} {
		lk, err := ParseLock("package-lock.json", []byte(lockJSON(v, good,
			`"node_modules/w": {"resolved": "packages/w", "link": true}`,
			`"packages/w": {"name": "w", "version": "0.1.0"}`,
			`"node_modules/b": {"version": "2.0.0", "resolved": "https://example.com/b.tgz", "integrity": "`+sri("b")+`"}`,
			`"node_modules/c": {"version": "3.0.0", "resolved": "file:vendor/c-3.0.0.tgz", "integrity": "`+sri("c")+`"}`,
			`"node_modules/d": {"version": "4.0.0", "integrity": "`+sri("d")+`", "dependencies": {"e": "*"}}`,
			`"node_modules/d/node_modules/e": {"version": "5.0.0", "inBundle": true}`,
			`"node_modules/@s/f": {"version": "1.0.0-rc.1+build", "integrity": "`+sri("f")+`"}`,
			`"node_modules/alias": {"name": "real", "version": "1.0.0", "integrity": "`+sri("r")+`"}`,
		)))
		if err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		kinds := map[string]Kind{}
		for _, p := range lk.Packages {
			kinds[p.Path] = p.Kind()
		}
		want := map[string]Kind{
			"node_modules/a": Registry, "node_modules/w": Linked, "packages/w": Folder, "node_modules/b": Remote,
			"node_modules/c": LocalTarball, "node_modules/d": Registry, "node_modules/d/node_modules/e": Bundled,
			"node_modules/@s/f": Registry, "node_modules/alias": Registry,
		}
		for p, k := range want {
			if kinds[p] != k {
				t.Errorf("v%d: %s is %v, want %v", v, p, kinds[p], k)
			}
		}
		if a := lk.Get("node_modules/a"); a.Bin["a"] != "cli.js" || a.License != "MIT" || a.Line != 8 {
			t.Errorf("node_modules/a: %+v", a)
		}
		if a := lk.Get("node_modules/alias"); a.Name != "real" || a.RegistryTail() != "real/-/real-1.0.0.tgz" {
			t.Errorf("alias: name %q tail %q", a.Name, a.RegistryTail())
		}
		if f := lk.Get("node_modules/@s/f"); f.Name != "@s/f" || f.RegistryTail() != "@s/f/-/f-1.0.0-rc.1+build.tgz" {
			t.Errorf("scoped: name %q tail %q", f.Name, f.RegistryTail())
		}
	}
}

func TestParseLockRefuses(t *testing.T) {
	in := `"integrity": "` + sri("x") + `"`
	cases := []struct {
		name, text, want string
		line             int
	}{
		{"v1", `{"name": "a", "lockfileVersion": 1, "dependencies": {}}`, "lockfileVersion 1 (npm 5 and 6) is not supported", 0},
		{"v4", lockJSON(4), "lockfileVersion 4 is not supported", 0},
		{"no version", `{"packages": {}}`, "no lockfileVersion", 0},
		{"no packages", `{"lockfileVersion": 3}`, `no "packages"`, 0},
		{"no integrity", lockJSON(3, `"node_modules/a": {"version": "1.0.0", "resolved": "https://registry.npmjs.org/a/-/a-1.0.0.tgz"}`), `node_modules/a (a@1.0.0) has no integrity`, 8},
		{"git", lockJSON(3, `"node_modules/a": {"version": "1.0.0", "resolved": "git+ssh://git@github.com/x/a.git#0123456789abcdef"}`), `node_modules/a (a@1.0.0): git dependency "git+ssh://***@github.com/x/a.git#0123456789abcdef"`, 8},
		{"github shorthand", lockJSON(3, `"node_modules/a": {"version": "1.0.0", "resolved": "github:x/a#abc", `+in+`}`), "git dependency", 8},
		{"remote without integrity", lockJSON(3, `"node_modules/a": {"version": "1.0.0", "resolved": "https://user:pw@example.com/a.tgz"}`), `remote tarball "https://***@example.com/a.tgz" has no integrity`, 8},
		{"file without integrity", lockJSON(3, `"node_modules/a": {"version": "1.0.0", "resolved": "file:../a"}`), "file dependency \"file:../a\" has no integrity", 8},
		{"other scheme", lockJSON(3, `"node_modules/a": {"version": "1.0.0", "resolved": "ftp://x/a.tgz", `+in+`}`), "neither a registry", 8},
		{"shrinkwrap", lockJSON(3, `"node_modules/a": {"version": "1.0.0", "hasShrinkwrap": true, `+in+`}`), "a@1.0.0 has its own npm-shrinkwrap.json (hasShrinkwrap)", 8},
		{"dotdot key", lockJSON(3, `"node_modules/../a": {"version": "1.0.0", `+in+`}`), `path segment ".."`, 8},
		{"absolute key", lockJSON(3, `"/node_modules/a": {"version": "1.0.0", `+in+`}`), "absolute path", 8},
		{"dot name", lockJSON(3, `"node_modules/.bin": {"version": "1.0.0", `+in+`}`), `starts with '.'`, 8},
		{"bare scope", lockJSON(3, `"node_modules/@s": {"version": "1.0.0", `+in+`}`), "scope \"@s\" without a package", 8},
		{"backslash", lockJSON(3, `"node_modules/a\\b": {"version": "1.0.0", `+in+`}`), `character '\\'`, 8},
		{"bad name field", lockJSON(3, `"node_modules/a": {"name": "../x", "version": "1.0.0", `+in+`}`), "name:", 8},
		{"bad version", lockJSON(3, `"node_modules/a": {"version": "1.0.0/../../x", `+in+`}`), `has the character '/'`, 8},
		{"link outside", lockJSON(3, `"node_modules/a": {"resolved": "../../etc", "link": true}`), "outside the project", 8},
		{"link absolute", lockJSON(3, `"node_modules/a": {"resolved": "/etc", "link": true}`), "not a relative path", 8},
		{"inside a link", lockJSON(3, `"node_modules/a": {"resolved": "packages/a", "link": true}`, `"node_modules/a/node_modules/b": {"version": "1.0.0", `+in+`}`), "is inside node_modules/a, which is a link", 9},
		{"bundled alone", lockJSON(3, `"node_modules/a": {"version": "1.0.0", "inBundle": true}`), "no package above it has a tarball", 8},
		{"bad integrity", lockJSON(3, `"node_modules/a": {"version": "1.0.0", "integrity": "sha512-!!!"}`), "sha512 digest is not base64", 8},
		{"short digest", lockJSON(3, `"node_modules/a": {"version": "1.0.0", "integrity": "sha512-AAAA"}`), "sha512 digest has 3 bytes", 8},
		{"unknown algorithm only", lockJSON(3, `"node_modules/a": {"version": "1.0.0", "integrity": "md5-AAAA"}`), "no sha512, sha384, sha256 or sha1 hash", 8},
		{"wrong type", lockJSON(3, `"node_modules/a": {"version": 1, `+in+`}`), "version is a JSON number", 8},
		{"duplicate", lockJSON(3, `"node_modules/a": {"version": "1.0.0", `+in+`}`, `"node_modules/a": {"version": "1.0.0", `+in+`}`), `packages["node_modules/a"] appears twice`, 9},
		{"folder with resolved", lockJSON(3, `"lib/x": {"version": "1.0.0", "resolved": "https://e.com/x.tgz", `+in+`}`), "outside node_modules but has a resolved", 8},
		{"not json", `{"lockfileVersion": 3, "packages": {`, "not valid JSON", 1},
		{"trailing", lockJSON(3) + "{}", "text after the JSON object", 0},
		{"nested", `{"lockfileVersion": 3, "packages": ` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, "nested more than 64 deep", 1},
		{"array", `[1, 2]`, "not a JSON object", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseLock("dir/package-lock.json", []byte(c.text))
			if err == nil {
				t.Fatalf("accepted:\n%s", c.text)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
			var le *Error
			if !errors.As(err, &le) {
				t.Fatalf("error is a %T, not an *Error", err)
			}
			if !strings.HasPrefix(err.Error(), "dir/package-lock.json") {
				t.Errorf("error %q does not name the file", err)
			}
			if c.line > 0 && le.Problems[0].Line != c.line {
				t.Errorf("line %d, want %d (%v)", le.Problems[0].Line, c.line, err)
			}
		})
	}
}

func TestParseLockReportsEveryProblem(t *testing.T) {
	var members []string
	for i := 0; i < 30; i++ {
		members = append(members, fmt.Sprintf(`"node_modules/p%d": {"version": "1.0.0"}`, i))
	}
	_, err := ParseLock("package-lock.json", []byte(lockJSON(3, members...)))
	var le *Error
	if !errors.As(err, &le) {
		t.Fatalf("got %v", err)
	}
	if len(le.Problems) != MaxProblems || le.More != 30-MaxProblems {
		t.Fatalf("%d problems and %d more, want %d and %d", len(le.Problems), le.More, MaxProblems, 30-MaxProblems)
	}
	if !strings.Contains(err.Error(), "and 10 more problems") {
		t.Errorf("error does not count the rest: %v", err)
	}
}

func TestParseLockLimits(t *testing.T) {
	big := make([]byte, MaxLockBytes+1)
	if _, err := ParseLock("big.json", big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a lock over the size limit: %v", err)
	}
}

func TestFixtureLocks(t *testing.T) {
	for name, want := range map[string]int{"express": 100, "large": 362} {
		lk, err := ReadLock(filepath.Join("..", "..", "testdata", "npm", name, "package-lock.json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(lk.Packages) != want {
			t.Errorf("%s: %d packages, want %d", name, len(lk.Packages), want)
		}
		for _, p := range lk.Packages {
			if p.Kind() != Registry || p.RegistryTail() != RegistryPath(p.Name, p.Version) {
				t.Errorf("%s: %s: kind %v, tail %s", name, p.Path, p.Kind(), p.RegistryTail())
			}
		}
	}
}

func TestIntegrity(t *testing.T) {
	s512 := sri("data")
	sum1 := "sha1-" + base64.StdEncoding.EncodeToString(make([]byte, 20))
	in, err := ParseIntegrity(sum1 + " " + s512 + "?opt md5-xyz")
	if err != nil {
		t.Fatal(err)
	}
	if in.Algorithm != "sha512" || in.String() != s512 || !in.Check([]byte("data")) || in.Check([]byte("other")) {
		t.Errorf("strongest of sha1 and sha512: %+v", in)
	}
	only1, err := ParseIntegrity(sum1)
	if err != nil || only1.Algorithm != "sha1" {
		t.Errorf("sha1 alone: %+v %v", only1, err)
	}
}

func TestTarballFileNames(t *testing.T) {
	for _, c := range [][3]string{
		{"express", "4.21.2", "express@4.21.2.tgz"},
		{"@babel/core", "7.26.0", "@babel+core@7.26.0.tgz"},
		{"a-1.0.0", "2.0.0", "a-1.0.0@2.0.0.tgz"},
		{"a", "1.0.0-2.0.0", "a@1.0.0-2.0.0.tgz"},
	} {
		if got := TarballFile(c[0], c[1]); got != c[2] {
			t.Errorf("TarballFile(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
	if got := RegistryPath("@babel/core", "7.26.0"); got != "@babel/core/-/core-7.26.0.tgz" {
		t.Errorf("RegistryPath = %q", got)
	}
}

func TestRegistryTail(t *testing.T) {
	for _, c := range []struct{ name, version, resolved, want string }{
		{"a", "1.0.0", "https://registry.npmjs.org/a/-/a-1.0.0.tgz", "a/-/a-1.0.0.tgz"},
		{"a", "1.0.0", "https://npm.example.com/repository/npm/a/-/a-1.0.0.tgz?token=x", "a/-/a-1.0.0.tgz"},
		{"@s/b", "1.0.0", "https://r.example.com/@s%2fb/-/b-1.0.0.tgz", "@s/b/-/b-1.0.0.tgz"},
		{"b", "1.0.0", "https://r.example.com/ab/-/ab-1.0.0.tgz", "b/-/b-1.0.0.tgz"},
		{"a", "1.0.0", "", "a/-/a-1.0.0.tgz"},
	} {
		p := &Package{Name: c.name, Version: c.version, Resolved: c.resolved}
		if got := p.RegistryTail(); got != c.want {
			t.Errorf("RegistryTail(%s, %q) = %q, want %q", c.name, c.resolved, got, c.want)
		}
	}
}

func TestPURL(t *testing.T) {
	if got := PURL("@babel/core", "7.26.0"); got != "pkg:npm/%40babel/core@7.26.0" {
		t.Errorf("PURL = %q", got)
	}
	if got := PURL("express", "4.21.2"); got != "pkg:npm/express@4.21.2" {
		t.Errorf("PURL = %q", got)
	}
}
