package cli

import (
	"os"
	"path/filepath"
	"testing"
)

func TestIsInstallOf(t *testing.T) {
	plan := "/tmp/pipbake-r2/plan.json"
	for _, c := range []struct {
		argv []string
		want bool
	}{
		{[]string{"/tmp/pipbake-r2/pipbake", "install", "-f", plan, "--session-stdin"}, true},
		{[]string{"pipbake", "install", "--receipts-dir", "/x", "-f=" + plan}, true},
		{[]string{"pipbake", "install", "-f", "/tmp/pipbake-r2/./plan.json"}, true},
		{[]string{"pipbake", "install", "-f", "/tmp/pipbake-r3/plan.json"}, false},
		{[]string{"pipbake", "stop", "--plan", plan}, false},
		{[]string{"pipbake", "install", "-f"}, false},
		{[]string{"pipbake"}, false},
	} {
		if got := isInstallOf(c.argv, plan); got != c.want {
			t.Errorf("%q: %v, want %v", c.argv, got, c.want)
		}
	}
}

// TestRemoveStaging: a cancelled agent removes what the provisioner put in
// its staging folder, and nothing else, whatever that folder is.
func TestRemoveStaging(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "staging")
	write := func(name, data string) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("plan.json", `{"release":"r2","wheelhouse":"bundle.tar","set":[{"name":"api","lock":"locks/0-api/api.txt","root":"/opt/api"}]}`)
	write("bundle.tar", "x")
	write("locks/0-api/api.txt", "x")
	removeStaging(dir, filepath.Join(dir, "plan.json"))
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("staging folder left: %v", err)
	}

	// with the bytecode cache folder and return pack the provisioner
	// named in it (failed before: the folder was left)
	write("plan.json", `{"release":"r2","wheelhouse":"bundle.tar","set":[{"name":"api","lock":"locks/0-api/api.txt","root":"/opt/api"}]}`)
	write("bundle.tar", "x")
	write("bytecode/packs/host.pack", "x")
	write("bytecode/v1/ab/abcd", "x")
	write("bytecode-return.pack", "x")
	removeStaging(dir, filepath.Join(dir, "plan.json"), filepath.Join(dir, "bytecode"), filepath.Join(dir, "bytecode-return.pack"))
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("staging folder with bytecode left: %v", err)
	}

	// someone else's file in it: kept, with the folder
	write("plan.json", `{"release":"r2","wheelhouse":"bundle.tar","set":[{"name":"api","lock":"../outside.txt","root":"/opt/api"}]}`)
	write("bundle.tar", "x")
	write("notes.txt", "mine")
	outside := filepath.Join(filepath.Dir(dir), "outside.txt")
	os.WriteFile(outside, []byte("keep"), 0o644)
	removeStaging(dir, filepath.Join(dir, "plan.json"))
	for _, p := range []string{filepath.Join(dir, "notes.txt"), outside} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
	for _, p := range []string{"plan.json", "bundle.tar"} {
		if _, err := os.Stat(filepath.Join(dir, p)); !os.IsNotExist(err) {
			t.Errorf("%s left: %v", p, err)
		}
	}
}
