package npm_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/npm"
	"github.com/pipbake/packer-plugin-pipbake/internal/npm/npmtest"
)

// expressServer is the Express fixture's app.
const expressServer = `const express = require('express');
const app = express();
app.get('/', (req, res) => res.send('hello from pipbake, express ' + require('express/package.json').version));
const server = app.listen(0, '127.0.0.1', () => console.log('listening on ' + server.address().port));
`

// AppTarball makes the Express fixture's app as npm pack would: its
// package.json and server.js under package/.
func appTarball(t *testing.T, f *npmtest.Fixture) string {
	t.Helper()
	pkgJSON, err := os.ReadFile(filepath.Join(f.Dir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "pipbake-express-fixture-1.0.0.tgz")
	data := npmtest.Tgz(t, npmtest.Member{Name: "package/package.json", Body: string(pkgJSON)}, npmtest.Member{Name: "package/server.js", Body: expressServer})
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExpressAppServes lays the Express fixture out with its app and
// runs it: it answers a request on loopback; npm ls finds the tree clean.
func TestExpressAppServes(t *testing.T) {
	f := npmtest.Get(t, "express")
	app := appTarball(t, f)
	appData, _ := os.ReadFile(app)
	dir, res := layout(t, f, false, npm.InstallOptions{App: app, AppIntegrity: sriOf(appData), PackageJSON: []byte("{}")})
	if res.App == nil || res.App.Integrity != sriOf(appData) || res.App.Files != 2 {
		t.Errorf("app: %+v", res.App)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "package.json")); !strings.Contains(string(data), "pipbake-express-fixture") {
		t.Errorf("package.json is not the app's: %s", data)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, f.Runtime.ExecPath, "server.js")
	cmd.Dir = dir
	cmd.Env = npmtest.CleanEnv(os.Environ())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("the app printed %q: %v", line, err)
	}
	port, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		t.Fatalf("the app printed %q", line)
	}
	resp, err := http.Get("http://127.0.0.1:" + port + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	express := f.Lock.Get("node_modules/express")
	if want := "hello from pipbake, express " + express.Version; string(body) != want {
		t.Errorf("GET / answered %q, want %q", body, want)
	}

	out := npmtest.RunNPM(t, npmtest.NPM(t), dir, t.TempDir(), "ls", "--all", "--omit=dev", "--offline")
	if strings.Contains(out, "extraneous") || strings.Contains(out, "missing") || strings.Contains(out, "invalid") {
		t.Errorf("npm ls finds problems:\n%s", out)
	}
}

// TestAppMayNotWriteNodeModules: the app's tarball is refused when it
// brings files into node_modules.
func TestAppMayNotWriteNodeModules(t *testing.T) {
	p := makeProject(t, nil, spkg{path: "node_modules/a", entries: []npmtest.Member{pj("a", "1.0.0")}})
	app := filepath.Join(t.TempDir(), "app.tgz")
	os.WriteFile(app, npmtest.Tgz(t, npmtest.Member{Name: "package/node_modules/a/index.js", Body: "shadow"}), 0o644)
	_, _, _, err := p.install(t, nil, npm.InstallOptions{App: app})
	if err == nil || !strings.Contains(err.Error(), "the app may not bring files into node_modules") {
		t.Fatalf("got %v", err)
	}
	_, _, _, err = p.install(t, nil, npm.InstallOptions{App: app, AppIntegrity: sriOf([]byte("x"))})
	if err == nil || !strings.Contains(err.Error(), "does not match its integrity") {
		t.Fatalf("got %v", err)
	}
}
