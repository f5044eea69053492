//go:build !pipbake_agent && linux

package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
	"github.com/pipbake/packer-plugin-pipbake/internal/npm/npmtest"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// expressAppV2 writes the Express fixture's app with another greeting, as
// a second release of the same project would have it.
func expressAppV2(t *testing.T, f *npmtest.Fixture, dir string) string {
	t.Helper()
	pkgJSON, err := os.ReadFile(filepath.Join(f.Dir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "pipbake-express-fixture-2.0.0.tgz")
	body := strings.Replace(npmtest.ExpressServer, "hello from pipbake", "hello again from pipbake", 1)
	data := npmtest.Tgz(t, npmtest.Member{Name: "package/package.json", Body: string(pkgJSON)}, npmtest.Member{Name: "package/server.js", Body: body})
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// stdoutOf runs pipbake with args and returns what it printed on
// os.Stdout (where verify and releases print), and its exit code.
func stdoutOf(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, code, _ := pipbake(t, args...)
	return out, code
}

// TestNodeSetCLI installs the Express fixture's app as a Node set with
// pipbake install (--lock, then -f with a plan and a service), and the app
// answers from current; verify holds it to its manifest; releases lists
// both releases and rollback brings back the first, which answers again.
func TestNodeSetCLI(t *testing.T) {
	f := npmtest.Get(t, "express")
	proj := f.Project(t)
	dir := t.TempDir()
	app1 := f.ExpressApp(t, dir)
	app2 := expressAppV2(t, f, dir)
	tarballs := f.Folder(t)
	root := filepath.Join(dir, "srv", "web")
	cur := filepath.Join(root, "current")
	node := f.Runtime.ExecPath

	// The kind is the lock's; the tarballs come from --tarballs.
	mustRun(t, "install", "--lock", filepath.Join(proj, "package-lock.json"), "--tarballs", tarballs, "--root", root,
		"--app", app1, "--node", node, "--release", "r1", "--quiet")
	if body := npmtest.ServeApp(t, node, cur, "server.js"); !strings.HasPrefix(body, "hello from pipbake, express 4.") {
		t.Fatalf("release r1 answered %q", body)
	}
	rc, err := receipt.Read(cur)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Ecosystem != receipt.EcosystemNode || rc.App == nil || rc.App.File != filepath.Base(app1) {
		t.Fatalf("receipt: ecosystem %q app %+v", rc.Ecosystem, rc.App)
	}
	if _, code, err := pipbake(t, "verify", "--root", root); code != 0 {
		t.Fatalf("verify r1: exit %d: %v", code, err)
	}

	// A plan with the second app and a service: the unit runs the node it
	// was installed for.
	sysroot := filepath.Join(dir, "sysroot")
	os.MkdirAll(filepath.Join(sysroot, "etc"), 0o755)
	for _, name := range []string{"passwd", "group", "shadow", "gshadow"} {
		data, _ := os.ReadFile("/etc/" + name)
		os.WriteFile(filepath.Join(sysroot, "etc", name), data, 0o600)
	}
	planFile := filepath.Join(dir, "pipbake.hcl")
	hcl := fmt.Sprintf(`tarballs = %q
set {
  name = "web"
  lock = %q
  root = %q
  node = %q
  app  = %q
  service {
    command = "node server.js"
    user    = "root"
  }
}
`, tarballs, filepath.Join(proj, "package-lock.json"), root, node, app2)
	if err := os.WriteFile(planFile, []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	receipts := filepath.Join(dir, "receipts")
	mustRun(t, "install", "-f", planFile, "--release", "r2", "--system-root", sysroot, "--receipts-dir", receipts, "--quiet")
	for _, name := range []string{"receipts/web.json", "receipts/web.cdx.json", "attestations/" + attest.SBOMFile("web"), "attestations/" + attest.ProvenanceFile("web")} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("beside the receipts: %v", err)
		}
	}
	if body := npmtest.ServeApp(t, node, cur, "server.js"); !strings.HasPrefix(body, "hello again from pipbake, express 4.") {
		t.Fatalf("release r2 answered %q", body)
	}
	unit, err := os.ReadFile(filepath.Join(sysroot, "etc/systemd/system/web.service"))
	if err != nil {
		t.Fatal(err)
	}
	has(t, "unit", string(unit), "ExecStart="+node+" server.js\n", "WorkingDirectory="+cur+"\n", "PATH="+cur+"/node_modules/.bin:")

	// verify notices drift and says where.
	victim := filepath.Join(cur, "node_modules/express/lib/router/index.js")
	data, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(victim, append(data, '\n'), 0o644)
	s, code := stdoutOf(t, "verify", "--root", root, "--json")
	if code != 1 || !strings.Contains(s, "node_modules/express/lib/router/index.js") {
		t.Errorf("verify of a changed file: exit %d:\n%s", code, s)
	}
	os.WriteFile(victim, data, 0o644)
	if _, code, err := pipbake(t, "verify", "--root", root); code != 0 {
		t.Fatalf("verify r2 restored: exit %d: %v", code, err)
	}

	var rels []struct {
		ID      string `json:"id"`
		Current bool   `json:"current"`
	}
	s, code = stdoutOf(t, "releases", "--root", root, "--json")
	if err := json.Unmarshal([]byte(s), &rels); code != 0 || err != nil {
		t.Fatalf("releases: exit %d: %v\n%s", code, err, s)
	}
	if s, _ = stdoutOf(t, "releases", "--root", root); !strings.Contains(s, "node "+f.Runtime.Version) {
		t.Errorf("releases does not show the node version:\n%s", s)
	}
	if len(rels) != 2 || rels[0].ID != "r1" || rels[1].ID != "r2" || !rels[1].Current {
		t.Fatalf("releases: %+v", rels)
	}
	mustRun(t, "rollback", "--root", root)
	if body := npmtest.ServeApp(t, node, cur, "server.js"); !strings.HasPrefix(body, "hello from pipbake, express 4.") {
		t.Fatalf("after rollback the app answered %q", body)
	}
	if _, code, err := pipbake(t, "verify", "--root", root); code != 0 {
		t.Fatalf("verify after rollback: exit %d: %v", code, err)
	}
}
