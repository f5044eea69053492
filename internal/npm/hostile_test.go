package npm_test

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/npm"
	"github.com/pipbake/packer-plugin-pipbake/internal/npm/npmtest"
)

// onlyRelease checks that nothing but the release folder was written in
// its parent, and that the release holds no node_modules/.package-lock.json
// (the install did not finish).
func onlyRelease(t *testing.T, parent, dir string) {
	t.Helper()
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != filepath.Base(dir) {
			t.Errorf("%s was written beside the release", e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", npm.HiddenLockName)); err == nil {
		t.Errorf("a failed install wrote node_modules/%s", npm.HiddenLockName)
	}
}

// TestHostileTarballs: each bad tarball is refused with an error naming
// the tarball, the package and the entry, and nothing is written outside
// the release.
func TestHostileTarballs(t *testing.T) {
	good := []npmtest.Member{pj("evil", "1.0.0"), {Name: "package/index.js", Body: "ok"}}
	cases := []struct {
		name    string
		entries []npmtest.Member
		want    string
	}{
		{"dotdot", []npmtest.Member{{Name: "package/../../../escaped", Body: "x"}}, `entry "package/../../../escaped": has a ".." segment`},
		{"dotdot deeper", []npmtest.Member{{Name: "package/a/../../escaped", Body: "x"}}, `has a ".." segment`},
		{"absolute", []npmtest.Member{{Name: "/tmp/escaped", Body: "x"}}, "has an absolute path"},
		{"symlink out", []npmtest.Member{{Name: "package/l", Type: tar.TypeSymlink, Link: "../../../../etc/passwd"}}, `is a symlink to "../../../../etc/passwd", outside the package`},
		{"symlink absolute", []npmtest.Member{{Name: "package/l", Type: tar.TypeSymlink, Link: "/etc/passwd"}}, "is a link to the absolute path"},
		{"symlink one up", []npmtest.Member{{Name: "package/sub/l", Type: tar.TypeSymlink, Link: "../../x"}}, "outside the package"},
		{"hard link out", []npmtest.Member{{Name: "package/h", Type: tar.TypeLink, Link: "package/../../x"}}, "is a hard link to"},
		{"control character", []npmtest.Member{{Name: "package/a\nb", Body: "x"}}, "control character"},
		{"into another package", []npmtest.Member{{Name: "package/node_modules/dep/index.js", Body: "x"}}, "lands in node_modules/evil/node_modules/dep, which the lock installs from its own tarball"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := makeProject(t, nil,
				spkg{path: "node_modules/evil", entries: append(append([]npmtest.Member{}, good...), c.entries...)},
				spkg{path: "node_modules/evil/node_modules/dep", entries: []npmtest.Member{pj("dep", "1.0.0")}},
			)
			parent, dir, _, err := p.install(t, nil, npm.InstallOptions{})
			if err == nil {
				t.Fatal("installed")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "evil@1.0.0.tgz (evil@1.0.0)") {
				t.Fatalf("error %q does not say %q and name the tarball", err, c.want)
			}
			var ee *npm.EntryError
			if !errors.As(err, &ee) {
				t.Errorf("error is a %T, not an *npm.EntryError", err)
			}
			onlyRelease(t, parent, dir)
		})
	}
}

// TestIntegrityMismatch: a tarball that does not hash to the lock's
// integrity is refused before anything is written, and every such
// tarball is named.
func TestIntegrityMismatch(t *testing.T) {
	other := npmtest.Tgz(t, pj("b", "1.0.0"))
	p := makeProject(t, nil,
		spkg{path: "node_modules/a", entries: []npmtest.Member{pj("a", "1.0.0")}, lockSRI: sriOf([]byte("something else"))},
		spkg{path: "node_modules/b", entries: []npmtest.Member{pj("b", "1.0.0"), {Name: "package/x", Body: "x"}}, lockSRI: sriOf(other)},
		spkg{path: "node_modules/c", entries: []npmtest.Member{pj("c", "1.0.0")}},
	)
	parent, dir, _, err := p.install(t, nil, npm.InstallOptions{})
	if err == nil {
		t.Fatal("installed")
	}
	for _, want := range []string{"a@1.0.0.tgz for node_modules/a (a@1.0.0) does not match the lock's integrity", "b@1.0.0.tgz for node_modules/b (b@1.0.0) does not match"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	onlyRelease(t, parent, dir)
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the release holds %d entries: a mismatch must stop the install before it writes", len(entries))
	}
}

// TestMissingTarball names every tarball the folder lacks.
func TestMissingTarball(t *testing.T) {
	p := makeProject(t, nil, spkg{path: "node_modules/a", entries: []npmtest.Member{pj("a", "1.0.0")}}, spkg{path: "node_modules/@s/b", entries: []npmtest.Member{pj("@s/b", "1.0.0")}})
	for f := range p.files {
		os.Remove(p.files[f])
	}
	_, _, _, err := p.install(t, nil, npm.InstallOptions{})
	if err == nil || !strings.Contains(err.Error(), "a@1.0.0.tgz for node_modules/a (a@1.0.0)") || !strings.Contains(err.Error(), "@s+b@1.0.0.tgz") || !strings.Contains(err.Error(), "pipbake fetch --lock") {
		t.Fatalf("got %v", err)
	}
}

// TestBuildNeeded: a package with a binding.gyp and no install script of
// its own needs node-gyp; when the set does not allow its scripts the
// install fails, naming it and the fix. "gypfile": false turns that off.
func TestBuildNeeded(t *testing.T) {
	gyp := []npmtest.Member{pj("native", "1.0.0"), {Name: "package/binding.gyp", Body: "{}"}, {Name: "package/src/a.cc", Body: ""}}
	p := makeProject(t, nil, spkg{path: "node_modules/native", entries: gyp, meta: map[string]any{"hasInstallScript": true}})
	parent, dir, _, err := p.install(t, nil, npm.InstallOptions{ScriptsAllow: []string{"other"}})
	var be *npm.BuildNeededError
	if !errors.As(err, &be) {
		t.Fatalf("got %v, want a BuildNeededError", err)
	}
	for _, want := range []string{"node_modules/native (native@1.0.0) needs a native build", `add "native" to the set's scripts_allow`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	onlyRelease(t, parent, dir)

	off := []npmtest.Member{pj("native", "1.0.0", `, "gypfile": false`), {Name: "package/binding.gyp", Body: "{}"}}
	p = makeProject(t, nil, spkg{path: "node_modules/native", entries: off})
	if _, _, _, err := p.install(t, nil, npm.InstallOptions{}); err != nil {
		t.Errorf("gypfile false: %v", err)
	}
	own := []npmtest.Member{pj("native", "1.0.0", `, "scripts": {"install": "node-gyp-build"}`), {Name: "package/binding.gyp", Body: "{}"}}
	p = makeProject(t, nil, spkg{path: "node_modules/native", entries: own, meta: map[string]any{"hasInstallScript": true}})
	_, _, res, err := p.install(t, nil, npm.InstallOptions{})
	if err != nil {
		t.Fatalf("own install script: %v", err)
	}
	if len(res.NotRun) != 1 || res.NotRun[0] != "native@1.0.0" {
		t.Errorf("scripts not run: %v", res.NotRun)
	}
}

// TestPlatformRefusal: a package for another platform that is not
// optional fails the selection, named.
func TestPlatformRefusal(t *testing.T) {
	p := makeProject(t, nil, spkg{path: "node_modules/mac", meta: map[string]any{"os": []string{"darwin"}, "cpu": []string{"arm64"}}, entries: []npmtest.Member{pj("mac", "1.0.0")}})
	_, _, _, err := p.install(t, nil, npm.InstallOptions{})
	if err == nil || !strings.Contains(err.Error(), "node_modules/mac (mac@1.0.0) is for os darwin, cpu arm64 (the target is linux x64 glibc), and it is not optional") {
		t.Fatalf("got %v", err)
	}
}

// TestSetuidBitsDropped: npm would keep setuid, setgid and sticky bits
// from a tarball; pipbake drops them (an install running as root would
// otherwise make setuid-root programs of a package's files).
func TestSetuidBitsDropped(t *testing.T) {
	p := makeProject(t, nil, spkg{path: "node_modules/s", entries: []npmtest.Member{pj("s", "1.0.0"), {Name: "package/suid", Body: "x", Mode: 0o4755}, {Name: "package/sticky", Body: "x", Mode: 0o1644}}})
	_, dir, _, err := p.install(t, nil, npm.InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"suid", "sticky"} {
		fi, err := os.Stat(filepath.Join(dir, "node_modules/s", f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky) != 0 {
			t.Errorf("%s has mode %v", f, fi.Mode())
		}
	}
}
