package inspect

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/install"
	"github.com/pipbake/packer-plugin-pipbake/internal/npm"
	"github.com/pipbake/packer-plugin-pipbake/internal/npm/npmtest"
)

// TestInspectNodeRelease: a Node set's release is reported as one: its
// runtime is node (not python), its packages are counted as packages,
// and the JSON says the ecosystem.
func TestInspectNodeRelease(t *testing.T) {
	rt := npmtest.Node(t)
	work := t.TempDir()
	tarballs := filepath.Join(work, "tarballs")
	os.MkdirAll(tarballs, 0o755)
	tgz := npmtest.Tgz(t, npmtest.Member{Name: "package/package.json", Body: `{"name": "pad", "version": "1.2.3"}`},
		npmtest.Member{Name: "package/index.js", Body: "module.exports = s => ' ' + s\n"})
	if err := os.WriteFile(filepath.Join(tarballs, npm.TarballFile("pad", "1.2.3")), tgz, 0o644); err != nil {
		t.Fatal(err)
	}
	lk, _ := json.Marshal(map[string]any{"name": "web", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": map[string]any{
		"":                 map[string]any{"name": "web", "version": "1.0.0", "dependencies": map[string]any{"pad": "1.2.3"}},
		"node_modules/pad": map[string]any{"version": "1.2.3", "resolved": "https://registry.npmjs.org/pad/-/pad-1.2.3.tgz", "integrity": npm.SRI(tgz), "license": "MIT"},
	}})
	lock := filepath.Join(work, "package-lock.json")
	os.WriteFile(lock, lk, 0o644)
	root := filepath.Join(work, "srv", "web")
	if _, err := install.Run(context.Background(), install.Set{Name: "web", Lock: lock, Root: root},
		install.Options{Tarballs: tarballs, Release: "n1", Version: "test"}); err != nil {
		t.Fatal(err)
	}
	rep, err := Inspect(context.Background(), root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Sets) != 1 {
		t.Fatalf("%+v", rep)
	}
	s := rep.Sets[0]
	if s.Ecosystem != "node" || s.Node != rt.Version || s.Python != "" || len(s.Distributions) != 1 || s.Distributions[0].Name != "pad" || s.SBOMComponents != 1 {
		t.Fatalf("set %+v (node %s)", s, rt.Version)
	}
	var out bytes.Buffer
	if err := Print(&out, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"node            " + rt.Version, "packages        1", "pad"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "python") {
		t.Errorf("a Node set's report names python:\n%s", out.String())
	}
}
