package npm_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/npm"
	"github.com/pipbake/packer-plugin-pipbake/internal/npm/npmtest"
)

// TestScripts: only the allowed packages' scripts run, with the target's
// node, a package after those it depends on, preinstall before the bins
// are linked and install and postinstall after, with npm's environment,
// and without network; the files they write are in the result.
func TestScripts(t *testing.T) {
	rt := npmtest.Node(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	log := `echo "$npm_package_name $npm_lifecycle_event" >> "$INIT_CWD/order.log"`
	scripts := func(extra string) string {
		return fmt.Sprintf(`, "scripts": {"preinstall": %q, "install": %q, "postinstall": %q}`, log, log+extra, log)
	}
	probe := fmt.Sprintf(` && echo hello from zzz && node -e "require('net').connect(%d, '127.0.0.1').on('connect', () => require('fs').writeFileSync('net', 'connected')).on('error', e => require('fs').writeFileSync('net', e.code))"`, port)
	p := makeProject(t, nil,
		// aaa sorts first but depends on zzz: zzz's scripts run first.
		spkg{path: "node_modules/aaa", meta: map[string]any{"hasInstallScript": true, "dependencies": map[string]any{"zzz": "1.0.0"}},
			entries: []npmtest.Member{pj("aaa", "1.0.0", scripts(` && zzz-tool >> "$INIT_CWD/order.log"`))}},
		spkg{path: "node_modules/zzz", meta: map[string]any{"hasInstallScript": true, "bin": map[string]any{"zzz-tool": "tool.sh"}},
			entries: []npmtest.Member{pj("zzz", "1.0.0", scripts(probe)), {Name: "package/tool.sh", Body: "#!/bin/sh\necho zzz-tool ran\n"}}},
		spkg{path: "node_modules/denied", meta: map[string]any{"hasInstallScript": true},
			entries: []npmtest.Member{pj("denied", "1.0.0", `, "scripts": {"postinstall": "touch ran"}`)}},
		spkg{path: "node_modules/quiet", meta: map[string]any{"hasInstallScript": true},
			entries: []npmtest.Member{pj("quiet", "1.0.0", `, "scripts": {"install": "printf no-newline"}`)}},
	)
	var out bytes.Buffer
	_, dir, res, err := p.install(t, rt, npm.InstallOptions{ScriptsAllow: []string{"zzz", "aaa", "absent", "quiet"}, Log: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	order, _ := os.ReadFile(filepath.Join(dir, "order.log"))
	want := "zzz preinstall\naaa preinstall\nzzz install\naaa install\nzzz-tool ran\nzzz postinstall\naaa postinstall\n"
	if string(order) != want {
		t.Errorf("scripts ran in this order:\n%s\nwant:\n%s", order, want)
	}
	netResult, err := os.ReadFile(filepath.Join(dir, "node_modules/zzz/net"))
	if err != nil || string(netResult) == "connected" || len(netResult) == 0 {
		t.Errorf("a script reached 127.0.0.1:%d from its network namespace: %q %v", port, netResult, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules/denied/ran")); err == nil {
		t.Error("a script not allowed ran")
	}
	if len(res.NotRun) != 1 || res.NotRun[0] != "denied@1.0.0" {
		t.Errorf("NotRun = %v", res.NotRun)
	}
	if len(res.Scripts) != 7 || res.Scripts[0].Name != "zzz" || res.Scripts[0].Event != "preinstall" {
		t.Errorf("Scripts = %+v", res.Scripts)
	}
	for _, note := range []string{`scripts_allow names "absent"`, "lifecycle scripts not run (not in scripts_allow): denied@1.0.0", "pipbake: zzz@1.0.0 install: hello from zzz\n", "pipbake: quiet@1.0.0 install: no-newline\n"} {
		if !strings.Contains(out.String(), note) {
			t.Errorf("the log does not say %q:\n%s", note, out.String())
		}
	}
	sum := sha256.Sum256(order)
	found := false
	for _, f := range res.Files {
		if f.Path == "order.log" {
			found = f.SHA256 == hex.EncodeToString(sum[:])
		}
	}
	if !found {
		t.Error("the result does not list order.log, which a script wrote, with its hash")
	}
}

// TestScriptFailure: a failing script fails the install with its output.
func TestScriptFailure(t *testing.T) {
	rt := npmtest.Node(t)
	p := makeProject(t, nil, spkg{path: "node_modules/bad", meta: map[string]any{"hasInstallScript": true},
		entries: []npmtest.Member{pj("bad", "1.0.0", `, "scripts": {"postinstall": "echo something broke >&2; exit 3"}`)}})
	parent, dir, _, err := p.install(t, rt, npm.InstallOptions{ScriptsAllow: []string{"bad"}})
	if err == nil || !strings.Contains(err.Error(), `node_modules/bad (bad@1.0.0): postinstall script "echo something broke >&2; exit 3" failed: exit status 3:`) || !strings.Contains(err.Error(), "something broke") {
		t.Fatalf("got %v", err)
	}
	onlyRelease(t, parent, dir)
}
