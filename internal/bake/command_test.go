package bake

import (
	"archive/tar"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCarried: the upload line says what the bundle carries.
func TestCarried(t *testing.T) {
	for _, c := range []struct {
		entries []string
		want    string
	}{
		{[]string{"pipbake", "plan.json", "wheels/a.whl", "wheels/b.whl"}, "2 wheels"},
		{[]string{"pipbake", "npm/a.tgz"}, "1 npm tarballs"},
		{[]string{"wheels/a.whl", "npm/a.tgz", "npm/b.tgz"}, "1 wheels and 2 npm tarballs"},
		{[]string{"pipbake"}, "0 wheels"},
	} {
		if got := carried(c.entries); got != c.want {
			t.Errorf("%q: %q, want %q", c.entries, got, c.want)
		}
	}
}

// TestInstallCommand runs the command the machine is given with sh, in a
// staging folder holding a real bundle and an agent that records its
// arguments: the agent, plan and locks are unpacked and the wheels and
// tarballs are not; the agent runs in a session, with the store off; a
// bundle that cannot be unpacked exits with exitUnpack before the agent
// runs, whatever the command after it.
func TestInstallCommand(t *testing.T) {
	staging := t.TempDir()
	agent := "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$(dirname \"$0\")/args\"\n"
	entries := map[string]string{"pipbake": agent, "plan.json": "{}", "locks/api.txt": "x==1\n", "wheels/x-1-py3-none-any.whl": "wheel", "npm/y-1.0.0.tgz": "tgz"}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var names []string
	for name, body := range entries {
		names = append(names, name)
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	if err := os.WriteFile(filepath.Join(staging, bundleName), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := Options{Staging: staging}
	cmd, err := installCommand(opts, nil, names)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sh", "-c", cmd).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	for name := range entries {
		_, err := os.Stat(filepath.Join(staging, name))
		if bundled := strings.HasPrefix(name, "wheels/") || strings.HasPrefix(name, "npm/"); bundled != os.IsNotExist(err) {
			t.Errorf("%s: unpacked %v", name, err == nil)
		}
	}
	if fi, _ := os.Stat(filepath.Join(staging, bundleName)); fi.Mode().Perm()&0o004 == 0 {
		t.Errorf("the bundle is %v, not readable by all", fi.Mode())
	}
	args, _ := os.ReadFile(filepath.Join(staging, "args"))
	got := strings.Fields(string(args))
	want := []string{"install", "-f", staging + "/plan.json", "--receipts-dir", ReceiptsDir, "--session-stdin", "--npm-cache", "off", "--session-staging", staging, "--result-file", staging + "/" + resultName}
	if strings.Join(got[:min(len(got), len(want))], " ") != strings.Join(want, " ") {
		t.Errorf("the agent got %q, want %q first", got, want)
	}

	opts.SkipClean = true
	opts.Command = func(agentPath, args string) (string, error) { return "echo ran; true", nil }
	os.Remove(filepath.Join(staging, bundleName))
	cmd, err = installCommand(opts, nil, names)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(cmd, "--session-staging") {
		t.Errorf("SkipClean, yet the agent removes the staging folder: %s", cmd)
	}
	out, err := exec.Command("sh", "-c", cmd).Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitUnpack || strings.Contains(string(out), "ran") {
		t.Errorf("no bundle: %v, output %q; want exit %d before the command", err, out, exitUnpack)
	}
}
