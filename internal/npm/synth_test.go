package npm_test

import (
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/npm"
	"github.com/pipbake/packer-plugin-pipbake/internal/npm/npmtest"
)

// pj is a package.json entry.
func pj(name, version string, more ...string) npmtest.Member {
	return npmtest.Member{Name: "package/package.json", Body: `{"name": "` + name + `", "version": "` + version + `"` + strings.Join(more, "") + "}\n"}
}

// spkg is one package of a synthetic project.
type spkg struct {
	path    string
	name    string // default: from path
	version string
	entries []npmtest.Member
	meta    map[string]any // more lock fields
	data    []byte         // the tarball; made from entries when nil
	lockSRI string         // integrity written in the lock; default the tarball's
}

// sproject is a synthetic project: a lock, its tarballs in a folder as
// pipbake fetch writes them, and the registry layout of the same files.
type sproject struct {
	dir      string
	lockPath string
	tarballs string
	registry map[string]string // registry path → file
	files    map[string]string // TarballFile → file
}

func sriOf(data []byte) string {
	s := sha512.Sum512(data)
	return "sha512-" + base64.StdEncoding.EncodeToString(s[:])
}

func makeProject(t testing.TB, root map[string]any, pkgs ...spkg) *sproject {
	t.Helper()
	p := &sproject{dir: t.TempDir(), tarballs: t.TempDir(), registry: map[string]string{}, files: map[string]string{}}
	if root == nil {
		root = map[string]any{}
	}
	root["name"], root["version"] = "synth", "1.0.0"
	deps, optDeps := map[string]any{}, map[string]any{}
	packages := map[string]any{"": root}
	for _, s := range pkgs {
		name := s.name
		if name == "" {
			i := strings.LastIndex(s.path, "node_modules/")
			name = s.path[i+len("node_modules/"):]
		}
		if s.version == "" {
			s.version = "1.0.0"
		}
		e := map[string]any{"version": s.version}
		if s.name != "" {
			e["name"] = s.name
		}
		for k, v := range s.meta {
			e[k] = v
		}
		if e["link"] == nil && e["inBundle"] == nil {
			data := s.data
			if data == nil {
				data = npmtest.Tgz(t, s.entries...)
			}
			file := npm.TarballFile(name, s.version)
			dst := filepath.Join(p.tarballs, file)
			if err := os.WriteFile(dst, data, 0o644); err != nil {
				t.Fatal(err)
			}
			p.files[file] = dst
			p.registry[npm.RegistryPath(name, s.version)] = dst
			e["resolved"] = "https://registry.npmjs.org/" + npm.RegistryPath(name, s.version)
			e["integrity"] = sriOf(data)
			if s.lockSRI != "" {
				e["integrity"] = s.lockSRI
			}
		}
		packages[s.path] = e
		if strings.Count(s.path, "node_modules/") == 1 && e["dev"] == nil && e["link"] == nil && strings.HasPrefix(s.path, "node_modules/") {
			if e["optional"] != nil {
				optDeps[name] = s.version
			} else {
				deps[name] = s.version
			}
		}
	}
	if root["dependencies"] == nil && len(deps) > 0 {
		root["dependencies"] = deps
	}
	if root["optionalDependencies"] == nil && len(optDeps) > 0 {
		root["optionalDependencies"] = optDeps
	}
	lock := map[string]any{"name": "synth", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": packages}
	data, err := json.MarshalIndent(lock, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	p.lockPath = filepath.Join(p.dir, "package-lock.json")
	if err := os.WriteFile(p.lockPath, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	pjs := map[string]any{"name": "synth", "version": "1.0.0"}
	for _, k := range []string{"dependencies", "devDependencies", "optionalDependencies"} {
		if root[k] != nil {
			pjs[k] = root[k]
		}
	}
	data, _ = json.MarshalIndent(pjs, "", "  ")
	if err := os.WriteFile(filepath.Join(p.dir, "package.json"), append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// install lays the project out into a new release folder inside a new
// parent folder, for the runtime (this machine's node when nil).
func (p *sproject) install(t testing.TB, rt *npm.Runtime, opts npm.InstallOptions) (parent, dir string, res *npm.Result, err error) {
	t.Helper()
	lk, err := npm.ReadLock(p.lockPath)
	if err != nil {
		return "", "", nil, err
	}
	if rt == nil {
		rt = testRuntime
	}
	sel, err := lk.Select(rt, npm.SelectOptions{})
	if err != nil {
		return "", "", nil, err
	}
	tb, err := npm.OpenTarballs(p.tarballs)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	parent = t.TempDir()
	dir = filepath.Join(parent, "release")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	opts.Selection, opts.Tarballs, opts.Dir = sel, tb, dir
	if opts.PackageJSON == nil {
		opts.PackageJSON, _ = os.ReadFile(filepath.Join(p.dir, "package.json"))
	}
	res, err = npm.Install(context.Background(), opts)
	return parent, dir, res, err
}

// testRuntime is a Linux x64 glibc node 20, for tests that run no script.
var testRuntime = &npm.Runtime{Node: "node", ExecPath: "/usr/bin/node", Version: "20.19.2", Platform: "linux", Arch: "x64", Libc: "glibc"}

func hexOf(b [32]byte) string { return hex.EncodeToString(b[:]) }
