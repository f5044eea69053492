package install

import (
	"archive/tar"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/npm"
	"github.com/pipbake/packer-plugin-pipbake/internal/npm/npmtest"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// synthPkg is one package of a synthetic Node project.
type synthPkg struct {
	name    string
	members []npmtest.Member
	// entry overrides fields of its lock entry.
	entry map[string]any
	// tarball, when set, is written instead of the tarball the lock pins.
	tarball []byte
}

// synthProject writes a project (package.json, package-lock.json v3)
// depending on pkgs (each at version 1.0.0, in node_modules/<name>) and
// their tarballs into a folder; lockVersion overrides lockfileVersion.
func synthProject(t *testing.T, lockVersion int, pkgs ...synthPkg) (lockPath, tarballs string) {
	t.Helper()
	dir := t.TempDir()
	tarballs = filepath.Join(dir, "tarballs")
	if err := os.Mkdir(tarballs, 0o755); err != nil {
		t.Fatal(err)
	}
	deps := map[string]string{}
	packages := map[string]any{}
	for _, p := range pkgs {
		deps[p.name] = "1.0.0"
		data := npmtest.Tgz(t, append([]npmtest.Member{{Name: "package/package.json", Body: `{"name": "` + p.name + `", "version": "1.0.0"}`}}, p.members...)...)
		e := map[string]any{"version": "1.0.0", "resolved": "https://registry.npmjs.org/" + p.name + "/-/" + p.name + "-1.0.0.tgz",
			"integrity": npm.SRI(data), "license": "MIT"}
		for k, v := range p.entry {
			if v == nil {
				delete(e, k)
			} else {
				e[k] = v
			}
		}
		packages["node_modules/"+p.name] = e
		if p.tarball != nil {
			data = p.tarball
		}
		if err := os.WriteFile(filepath.Join(tarballs, npm.TarballFile(p.name, "1.0.0")), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	packages[""] = map[string]any{"name": "app", "version": "1.0.0", "dependencies": deps}
	lk := map[string]any{"name": "app", "version": "1.0.0", "lockfileVersion": lockVersion, "requires": true, "packages": packages}
	data, _ := json.MarshalIndent(lk, "", "  ")
	lockPath = filepath.Join(dir, "package-lock.json")
	if err := os.WriteFile(lockPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	pj, _ := json.Marshal(map[string]any{"name": "app", "version": "1.0.0", "dependencies": deps})
	if err := os.WriteFile(filepath.Join(dir, "package.json"), pj, 0o644); err != nil {
		t.Fatal(err)
	}
	return lockPath, tarballs
}

// TestNodeSetRefusals: bad input is refused clearly by pipbake install:
// current stays the release it was, the failed release is removed and
// nothing is written outside the root.
func TestNodeSetRefusals(t *testing.T) {
	npmtest.Node(t)
	base := t.TempDir()
	root := filepath.Join(base, "web")
	okPkg := synthPkg{name: "ok", members: []npmtest.Member{{Name: "package/index.js", Body: "module.exports = 1\n"}}}
	lockPath, tarballs := synthProject(t, 3, okPkg)
	if _, err := Run(context.Background(), Set{Lock: lockPath, Root: root}, Options{Release: "r1", Tarballs: tarballs}); err != nil {
		t.Fatal(err)
	}
	other := npmtest.Tgz(t, npmtest.Member{Name: "package/package.json", Body: `{"name": "evil", "version": "1.0.0"}`}, npmtest.Member{Name: "package/x.js", Body: "x"})
	cases := []struct {
		name        string
		lockVersion int
		pkg         synthPkg
		want        []string
	}{
		{"integrity", 3, synthPkg{name: "evil", tarball: other}, []string{"evil@1.0.0.tgz", "does not match the lock's integrity"}},
		{"dotdot", 3, synthPkg{name: "evil", members: []npmtest.Member{{Name: "package/../../../../escaped", Body: "x"}}}, []string{"evil@1.0.0.tgz", `".." segment`}},
		{"symlink out", 3, synthPkg{name: "evil", members: []npmtest.Member{{Name: "package/l", Type: tar.TypeSymlink, Link: "../../../../../escaped"}}}, []string{"evil@1.0.0.tgz", "outside the package"}},
		{"lock v1", 1, synthPkg{name: "evil"}, []string{"package-lock.json", "lockfileVersion 1"}},
		{"git", 3, synthPkg{name: "evil", entry: map[string]any{"resolved": "git+ssh://git@example.com/evil.git#0123456789abcdef0123456789abcdef01234567", "integrity": nil}}, []string{"node_modules/evil", "git dependency"}},
		{"needs a build", 3, synthPkg{name: "evil", entry: map[string]any{"hasInstallScript": true},
			members: []npmtest.Member{{Name: "package/binding.gyp", Body: "{\"targets\": []}"}}}, []string{"evil", "native build", "scripts_allow"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lockPath, tarballs := synthProject(t, c.lockVersion, okPkg, c.pkg)
			_, err := Run(context.Background(), Set{Lock: lockPath, Root: root}, Options{Release: "r2", Tarballs: tarballs})
			if err == nil {
				t.Fatal("installed")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if cur := currentOf(t, root); cur != "r1" {
				t.Errorf("current is %q", cur)
			}
			if es := entries(t, root); len(es) != 1 || es[0] != "r1" {
				t.Errorf("releases folder holds %v", es)
			}
			es, _ := os.ReadDir(base)
			if len(es) != 1 {
				t.Errorf("written beside the root: %v", es)
			}
			filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.Name() == "escaped" {
					t.Errorf("written outside the package: %s", p)
				}
				return nil
			})
		})
	}
}

// TestNodeSetScriptsAllow: a set's scripts_allow reaches the install: the
// named packages' lifecycle scripts run, a dependency's first, and what
// they write is in the receipt, so verify is clean and later sees a
// change to it; without scripts_allow nothing runs and the log names
// what did not; an allowed script that fails fails the install and
// current stays the release it was.
func TestNodeSetScriptsAllow(t *testing.T) {
	npmtest.Node(t)
	script := func(name, body string) npmtest.Member {
		return npmtest.Member{Name: "package/package.json", Body: `{"name": "` + name + `", "version": "1.0.0", "scripts": {"install": ` + strconv.Quote(body) + `}}`}
	}
	dep := synthPkg{name: "dep", entry: map[string]any{"hasInstallScript": true},
		members: []npmtest.Member{script("dep", `node -e "require('fs').writeFileSync('built.txt', 'built by dep')"`)}}
	user := synthPkg{name: "user", entry: map[string]any{"hasInstallScript": true, "dependencies": map[string]any{"dep": "1.0.0"}},
		members: []npmtest.Member{script("user", `cp ../dep/built.txt seen.txt`)}}
	lockPath, tarballs := synthProject(t, 3, user, dep)
	root := filepath.Join(t.TempDir(), "web")

	var log strings.Builder
	if _, err := Run(context.Background(), Set{Lock: lockPath, Root: root}, Options{Release: "r1", Tarballs: tarballs, Log: &log}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"node_modules/dep/built.txt", "node_modules/user/seen.txt"} {
		if _, err := os.Stat(filepath.Join(root, "current", f)); err == nil {
			t.Errorf("%s written without scripts_allow", f)
		}
	}
	if !strings.Contains(log.String(), "lifecycle scripts not run (not in scripts_allow): dep@1.0.0, user@1.0.0") {
		t.Errorf("the log does not name the scripts not run:\n%s", log.String())
	}

	res, err := Run(context.Background(), Set{Lock: lockPath, Root: root, ScriptsAllow: []string{"user", "dep"}}, Options{Release: "r2", Tarballs: tarballs})
	if err != nil {
		t.Fatal(err)
	}
	seen, err := os.ReadFile(filepath.Join(root, "current", "node_modules/user/seen.txt"))
	if err != nil || string(seen) != "built by dep" {
		t.Fatalf("user's script did not run after dep's: %q %v", seen, err)
	}
	rep, err := receipt.Verify(res.Path, receipt.Options{})
	if err != nil || !rep.Clean() {
		t.Fatalf("verify: %v %s", err, describe(rep.Problems))
	}
	if err := os.WriteFile(filepath.Join(res.Path, "node_modules/dep/built.txt"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if rep, err := receipt.Verify(res.Path, receipt.Options{}); err != nil || rep.Clean() {
		t.Fatalf("verify does not see a change to what a script wrote: %v", err)
	}

	broken := synthPkg{name: "dep", entry: map[string]any{"hasInstallScript": true},
		members: []npmtest.Member{script("dep", `echo dep cannot build >&2; exit 3`)}}
	lockPath, tarballs = synthProject(t, 3, broken)
	_, err = Run(context.Background(), Set{Lock: lockPath, Root: root, ScriptsAllow: []string{"dep"}}, Options{Release: "r3", Tarballs: tarballs})
	if err == nil || !strings.Contains(err.Error(), "dep") {
		t.Fatalf("a failing script: %v", err)
	}
	if cur := currentOf(t, root); cur != "r2" {
		t.Errorf("current is %q after a failed script", cur)
	}
}
