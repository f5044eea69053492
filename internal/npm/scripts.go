package npm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// lifecycle events npm runs for an installed package, in order (bins are
// linked between preinstall and install).
var lifecycle = []string{"preinstall", "install", "postinstall"}

// defaultGypScript is what npm runs for a package with a binding.gyp and
// no install or preinstall script of its own.
const defaultGypScript = "node-gyp rebuild"

// ScriptRun is a lifecycle script pipbake ran.
type ScriptRun struct {
	Package string `json:"package"` // lock path
	Name    string `json:"name"`
	Version string `json:"version"`
	Event   string `json:"event"`
	Script  string `json:"script"`
}

// BuildNeededError is a package that needs a native build (a
// binding.gyp npm would build with node-gyp, or "gypfile": true) whose
// scripts the set does not allow.
type BuildNeededError struct {
	Packages []*Package
}

func (e *BuildNeededError) Error() string {
	var names, labels []string
	for _, p := range e.Packages {
		names = append(names, fmt.Sprintf("%q", p.Name))
		labels = append(labels, p.Label())
	}
	return fmt.Sprintf("%s need%s a native build (binding.gyp: npm would run %q) and %s not allowed to run scripts: add %s to the set's scripts_allow (the machine then needs node-gyp's tools: python3, make, a C++ compiler) or choose a version that ships prebuilt binaries",
		strings.Join(labels, ", "), plural(len(labels), "", "s"), defaultGypScript, plural(len(labels), "are", "is"), strings.Join(names, ", "))
}

func plural(n int, many, one string) string {
	if n == 1 {
		return one
	}
	return many
}

// pkgScripts is what a laid-out package's package.json says about its
// lifecycle.
type pkgScripts struct {
	pkg     *Package
	scripts map[string]string // event → command
	gyp     bool              // npm would build it with node-gyp
}

// readScripts reads the lifecycle scripts of the packages that have any
// (the lock's hasInstallScript, or a binding.gyp in the tarball), from
// their package.json as laid out.
func (u *unpacker) readScripts(pkgs []*Package, hasGyp map[*Package]bool) ([]*pkgScripts, error) {
	var out []*pkgScripts
	for _, p := range pkgs {
		if !p.HasInstallScript && !hasGyp[p] {
			continue
		}
		if p.Link || p.Kind() == Folder {
			continue
		}
		data, err := os.ReadFile(filepath.Join(u.root, filepath.FromSlash(p.Path), "package.json"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: read package.json: %w", p.Label(), err)
		}
		var pj struct {
			Scripts map[string]json.RawMessage `json:"scripts"`
			Gypfile *bool                      `json:"gypfile"`
		}
		if len(data) > 0 {
			if err := json.Unmarshal(data, &pj); err != nil {
				return nil, fmt.Errorf("%s: read package.json: %w", p.Label(), err)
			}
		}
		ps := &pkgScripts{pkg: p, scripts: map[string]string{}}
		for _, ev := range lifecycle {
			var s string
			if raw, ok := pj.Scripts[ev]; ok && json.Unmarshal(raw, &s) == nil && strings.TrimSpace(s) != "" {
				ps.scripts[ev] = s
			}
		}
		gypOff := pj.Gypfile != nil && !*pj.Gypfile
		if hasGyp[p] && !gypOff && ps.scripts["install"] == "" && ps.scripts["preinstall"] == "" {
			ps.scripts["install"] = defaultGypScript
			ps.gyp = true
		}
		if pj.Gypfile != nil && *pj.Gypfile {
			ps.gyp = true
		}
		if len(ps.scripts) > 0 || ps.gyp {
			out = append(out, ps)
		}
	}
	return out, nil
}

// scriptOrder orders the packages whose scripts run: a package after the
// packages it depends on (a cycle is broken in npm's node order), else
// by depth and path.
func scriptOrder(s *Selection, run []*pkgScripts) []*pkgScripts {
	sort.SliceStable(run, func(i, j int) bool {
		a, b := run[i].pkg.Path, run[j].pkg.Path
		if da, db := depth(a), depth(b); da != db {
			return da < db
		}
		return localeCompare(a, b) < 0
	})
	in := map[*Package]*pkgScripts{}
	for _, r := range run {
		in[r.pkg] = r
	}
	var out []*pkgScripts
	state := map[*Package]int{} // 1 visiting, 2 done
	var visit func(p *Package)
	visit = func(p *Package) {
		if state[p] != 0 {
			return
		}
		state[p] = 1
		for _, e := range s.graph.out[p] {
			if e.to != nil && in[e.to] != nil {
				visit(e.to)
			}
		}
		state[p] = 2
		out = append(out, in[p])
	}
	for _, r := range run {
		visit(r.pkg)
	}
	return out
}

// scriptEnv is the environment of a lifecycle script, as npm's
// run-script builds it: PATH with every node_modules/.bin from the
// package up to the project and the target node's folder first, the
// npm_package_* and npm_lifecycle_* variables, offline.
func (u *unpacker) scriptEnv(base []string, rt *Runtime, p *Package, event, script string) []string {
	var env []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(strings.ToLower(k), "npm_"), k == "NODE_OPTIONS", k == "PATH", k == "INIT_CWD", k == "NODE":
			continue
		}
		env = append(env, kv)
	}
	var bins []string
	for dir := p.Path; ; {
		bins = append(bins, filepath.Join(u.root, filepath.FromSlash(dir), "node_modules", ".bin"))
		if dir == "" {
			break
		}
		dir = path.Dir(dir)
		if dir == "." {
			dir = ""
		}
	}
	if rt.ExecPath != "" {
		bins = append(bins, filepath.Dir(rt.ExecPath))
	}
	pathVar := strings.Join(bins, string(os.PathListSeparator))
	if old := os.Getenv("PATH"); old != "" {
		pathVar += string(os.PathListSeparator) + old
	} else {
		pathVar += string(os.PathListSeparator) + "/usr/local/bin:/usr/bin:/bin"
	}
	boolEnv := func(b bool) string {
		if b {
			return "1"
		}
		return ""
	}
	return append(env,
		"PATH="+pathVar,
		"INIT_CWD="+u.root,
		"NODE="+rt.ExecPath,
		"npm_node_execpath="+rt.ExecPath,
		"npm_lifecycle_event="+event,
		"npm_lifecycle_script="+script,
		"npm_package_name="+p.Name,
		"npm_package_version="+p.Version,
		"npm_package_json="+filepath.Join(u.root, filepath.FromSlash(p.Path), "package.json"),
		"npm_package_resolved="+redactURL(p.Resolved),
		"npm_package_integrity="+p.Integrity.String(),
		"npm_package_optional="+boolEnv(p.Optional),
		"npm_package_dev="+boolEnv(p.Dev),
		"npm_package_peer="+boolEnv(p.Peer),
		"npm_config_offline=true",
		"npm_config_audit=false",
		"npm_config_fund=false",
		"npm_config_update_notifier=false",
		"npm_config_user_agent=pipbake",
	)
}

// runScript runs one lifecycle script with sh in the package's folder,
// cut off from the network (runOffline), its output to log.
func (u *unpacker) runScript(ctx context.Context, base []string, rt *Runtime, p *Package, event, script string, log io.Writer) error {
	dir := filepath.Join(u.root, filepath.FromSlash(p.Path))
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = u.scriptEnv(base, rt, p, event, script)
	var tail tailBuffer
	w := io.Writer(&tail)
	pw := &prefixWriter{w: io.Discard}
	if log != nil {
		pw = &prefixWriter{w: log, prefix: "pipbake: " + p.ID() + " " + event + ": "}
		w = io.MultiWriter(&tail, pw)
	}
	cmd.Stdout, cmd.Stderr = w, w
	err := runOffline(cmd)
	pw.flush()
	if err != nil {
		msg := strings.TrimSpace(tail.String())
		if msg != "" {
			msg = ":\n" + msg
		}
		return fmt.Errorf("%s: %s script %s failed: %w%s", p.Label(), event, quote(script), err, msg)
	}
	return nil
}

// tailBuffer keeps the last 4 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// flush writes a last line that had no newline.
func (p *prefixWriter) flush() {
	if len(p.buf) > 0 {
		io.WriteString(p.w, p.prefix+string(p.buf)+"\n")
		p.buf = nil
	}
}

// prefixWriter writes each line with a prefix.
type prefixWriter struct {
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		if _, err := io.WriteString(p.w, p.prefix+string(p.buf[:i+1])); err != nil {
			return len(b), err
		}
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}
