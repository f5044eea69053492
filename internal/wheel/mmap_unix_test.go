//go:build unix

package wheel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTruncatedWhileInstalling: a wheel file cut short after it was opened
// (mapped) fails the member being read with an error naming the wheel,
// not a crash of the process.
func TestTruncatedWhileInstalling(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB, several pages
	p := buildWheel(t, dir, "demo-1.0-py3-none-any.whl", basic(member{name: "demo/big.txt", body: big}), nil)
	w, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	root := filepath.Join(dir, "root")
	in, err := w.Prepare(Options{Scheme: scheme(root), Root: root, Python: filepath.Join(root, "bin/python"), PythonVersion: [2]int{3, 11}, Installer: "pipbake"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	var failed error
	for _, j := range in.Jobs() {
		if failed = j.Extract(); failed != nil {
			break
		}
	}
	if failed == nil || !strings.Contains(failed.Error(), `wheel "demo-1.0-py3-none-any.whl"`) || !strings.Contains(failed.Error(), "changed on disk") {
		t.Fatalf("want an error saying the wheel changed, got %v", failed)
	}
}
