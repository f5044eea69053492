package corpus

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/wheelpack"
)

// TestBuildReportsAScriptItCannotAdd: a script the wheel refuses (here a
// second one at the same path) fails the build, naming it, instead of
// going missing from the wheel. (It failed before: the error of adding a
// script was assigned to a shadowed err and dropped.)
func TestBuildReportsAScriptItCannotAdd(t *testing.T) {
	dir := t.TempDir()
	tool := filepath.Join(dir, "tool")
	if err := os.WriteFile(tool, []byte("#!/usr/bin/python3\nprint('hi')\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	arc := "demo-1.0.data/scripts/tool"
	d := &dist{name: "demo", version: "1.0", wheel: &wheelpack.WheelInfo{RootIsPurelib: true, Tags: []string{"py3-none-any"}},
		files: []packed{{arc: arc, disk: tool, mode: 0o755, script: true}, {arc: arc, disk: tool, mode: 0o755, script: true}}}
	if _, err := d.build(nil, t.TempDir()); err == nil || !strings.Contains(err.Error(), arc) || !strings.Contains(err.Error(), "duplicate") {
		t.Fatalf("build: %v, want the duplicate script named", err)
	}
	d.files = d.files[:1]
	res, err := d.build(nil, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(res.Path); err != nil {
		t.Fatalf("the wheel: %v", err)
	}
}
