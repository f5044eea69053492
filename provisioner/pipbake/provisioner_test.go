package pipbake

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/examples/hello"
)

func TestPrepareReportsEveryError(t *testing.T) {
	var p Provisioner
	err := p.Prepare(map[string]interface{}{
		"set": []map[string]interface{}{
			{"name": "api", "lock": "/nonexistent/api.txt", "root": "relative/root", "installer": "conda"},
			{"name": "api", "lock": "/nonexistent/api.txt", "root": "/opt/api2", "service": map[string]interface{}{"command": "", "restart": "sometimes"}},
		},
		"wheelhouse":      "/nonexistent/wheels",
		"sources":         []string{"https://pypi.example/simple"},
		"release":         "../escape",
		"agent_path":      "/nonexistent/pipbake",
		"execute_command": "{{.Agent}} {{.Nope}}",
	})
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{
		`set[0]: set "api": root "relative/root" must be an absolute path`,
		`set[0]: set "api": installer "conda"`,
		`set[1]: set "api" is defined twice`,
		`set[1]: set "api": service: command must not be empty`,
		`restart "sometimes"`,
		`set[0] "api": lock: stat /nonexistent/api.txt`,
		"wheelhouse and sources: give one, not both",
		"release: release id \"../escape\"",
		"agent_path: stat /nonexistent/pipbake",
		"execute_command: render",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestPrepareDefaults(t *testing.T) {
	dir := t.TempDir()
	lock := filepath.Join(dir, "api.txt")
	os.WriteFile(lock, hello.Lock, 0o644)
	if _, err := hello.Build(dir); err != nil {
		t.Fatal(err)
	}
	var p Provisioner
	if err := p.Prepare(map[string]interface{}{
		"set":        []map[string]interface{}{{"name": "api", "lock": lock, "root": "/opt/api"}},
		"wheelhouse": dir,
	}); err != nil {
		t.Fatal(err)
	}
	c := p.config
	if c.Release == "" || c.StagingDirectory != "/tmp/pipbake-"+c.Release || c.ExecuteCommand != DefaultExecuteCommand {
		t.Errorf("defaults: %+v", c)
	}
	cmd, err := p.command("/tmp/s/pipbake", "install -f /tmp/s/plan.json")
	if err != nil || cmd != "chmod +x /tmp/s/pipbake && /tmp/s/pipbake install -f /tmp/s/plan.json" {
		t.Errorf("command: %q %v", cmd, err)
	}
	if err := (&Provisioner{}).Prepare(map[string]interface{}{"wheelhouse": dir}); err == nil || !strings.Contains(err.Error(), "at least one `set` block") {
		t.Errorf("no sets: %v", err)
	}
}

// TestPrepareNodeSets: a Node set needs tarballs (or the wheelhouse, or
// sources), a Python set still needs the wheelhouse; keys of the other
// kind are refused.
func TestPrepareNodeSets(t *testing.T) {
	dir := t.TempDir()
	npmLock := filepath.Join(dir, "package-lock.json")
	os.WriteFile(npmLock, []byte(`{"lockfileVersion": 3, "packages": {"": {}}}`), 0o644)
	pyLock := filepath.Join(dir, "api.txt")
	os.WriteFile(pyLock, []byte("six==1.17.0 --hash=sha256:"+strings.Repeat("0", 64)+"\n"), 0o644)
	web := map[string]interface{}{"name": "web", "lock": npmLock, "root": "/opt/web", "node": "/usr/bin/node"}
	api := map[string]interface{}{"name": "api", "lock": pyLock, "root": "/opt/api"}
	if err := (&Provisioner{}).Prepare(map[string]interface{}{"set": []map[string]interface{}{web}, "tarballs": dir}); err != nil {
		t.Errorf("a Node set with tarballs: %v", err)
	}
	for _, c := range []struct {
		raw  map[string]interface{}
		want string
	}{
		{map[string]interface{}{"set": []map[string]interface{}{web}}, "tarballs (or wheelhouse) or sources: one is required for Node sets"},
		{map[string]interface{}{"set": []map[string]interface{}{web, api}, "tarballs": dir}, "wheelhouse or sources: one is required"},
		{map[string]interface{}{"set": []map[string]interface{}{web}, "tarballs": dir, "sources": []string{"https://registry.npmjs.org"}}, "tarballs and sources: give one, not both"},
		{map[string]interface{}{"set": []map[string]interface{}{web}, "tarballs": filepath.Join(dir, "none")}, "tarballs: stat "},
		{map[string]interface{}{"set": []map[string]interface{}{{"name": "web", "lock": npmLock, "root": "/opt/web", "python": "python3"}}, "tarballs": dir}, "python does not apply to a node set"},
	} {
		err := (&Provisioner{}).Prepare(c.raw)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want %q, got %v", c.want, err)
		}
	}
}

// TestPrepareChecksLocks: Prepare parses the locks and, with a wheelhouse,
// fails for a pin without a wheel there (the typo with "did you mean");
// with folder sources the same is a warning, said when Provision starts.
func TestPrepareChecksLocks(t *testing.T) {
	dir := t.TempDir()
	if _, err := hello.Build(dir); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(t.TempDir(), "api.txt")
	os.WriteFile(lock, []byte("helo==0.1.0 --hash=sha256:"+strings.Repeat("0", 64)+"\n"), 0o644)
	sets := []map[string]interface{}{{"name": "api", "lock": lock, "root": "/opt/api"}}

	var p Provisioner
	err := p.Prepare(map[string]interface{}{"set": sets, "wheelhouse": dir})
	if err == nil || !strings.Contains(err.Error(), `set[0] "api": `+lock+":1: helo==0.1.0: no wheel of helo in "+dir+" (did you mean hello?)") {
		t.Errorf("wheelhouse: %v", err)
	}
	p = Provisioner{}
	if err := p.Prepare(map[string]interface{}{"set": sets, "sources": []string{"file://" + dir}}); err != nil {
		t.Errorf("sources: %v", err)
	}
	if len(p.warnings) != 1 || !strings.Contains(p.warnings[0], lock+":1: helo==0.1.0: no wheel of helo") {
		t.Errorf("sources: warnings %q", p.warnings)
	}
	os.WriteFile(lock, []byte("hello>=0.1\n"), 0o644)
	p = Provisioner{}
	err = p.Prepare(map[string]interface{}{"set": sets, "sources": []string{"https://pypi.example/simple/"}})
	if err == nil || !strings.Contains(err.Error(), lock+":1: ") {
		t.Errorf("range: %v", err)
	}
}
