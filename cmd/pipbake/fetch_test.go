package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/fetch"
	"github.com/pipbake/packer-plugin-pipbake/internal/fetch/fetchtest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/nginxtest"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelhouse"
)

// flaskIndex writes Flask's closure, its lock and a static index of it
// into dir.
func flaskIndex(t *testing.T, dir string) ([]corpus.Wheel, string) {
	t.Helper()
	set := corpustest.Set(t)
	flask, err := set.Closure(t.Context(), "flask")
	if err != nil {
		t.Fatal(err)
	}
	if err := corpus.WriteRequirements(filepath.Join(dir, "flask.txt"), flask); err != nil {
		t.Fatal(err)
	}
	var files []fetchtest.File
	for _, w := range flask {
		files = append(files, fetchtest.File{Path: w.Path})
	}
	root := filepath.Join(dir, "index")
	if _, err := fetchtest.WriteIndex(root, files); err != nil {
		t.Fatal(err)
	}
	return flask, root
}

// TestFetchThenInstallOffline: fetch Flask's closure from nginx for a
// target described by flags, stop nginx, fetch again (warm cache, no
// network), and install from the result.
func TestFetchThenInstallOffline(t *testing.T) {
	py := corpustest.Python(t)
	dir := t.TempDir()
	flask, root := flaskIndex(t, dir)
	srv := nginxtest.Start(t, nginxtest.Options{Root: root, Server: fetchtest.NginxLocations})
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "xdg")) // the default cache, kept inside the test
	lockFile, wheels := filepath.Join(dir, "flask.txt"), filepath.Join(dir, "wheels")

	out, errOut, code := pipbake(t, "fetch", "--lock", lockFile, "--out", wheels,
		"--source", srv.URL+"/json/", "--python-version", "3.11", "--platform", "manylinux_2_36_x86_64")
	if code != 0 || !strings.Contains(out, "fetched 7 wheels into "+filepath.Join(dir, "wheels")+" (7 downloaded") {
		t.Fatalf("fetch: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "xdg", "pipbake", "fetch", "sha256")); err != nil {
		t.Fatalf("default cache: %v", err)
	}
	srv.Stop()

	// Warm, with the index gone: a probed target this time, and JSON.
	out, errOut, code = pipbake(t, "fetch", "--lock", lockFile, "--out", wheels,
		"--source", srv.URL+"/json/", "--target-python", py, "--json")
	if code != 0 {
		t.Fatalf("warm fetch: exit %d\n%s\n%s", code, out, errOut)
	}
	var res fetch.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.FromCache != 7 || res.Downloaded != 0 || len(res.Wheels) != 7 {
		t.Fatalf("warm result: %v %+v\n%s", err, res, out)
	}
	if res.Wheels[0].Pins[0] != lockFile+":2" || res.Wheels[0].Source != srv.URL+"/files/"+flask[0].File {
		t.Fatalf("wheel 0: %+v", res.Wheels[0])
	}

	out, errOut, code = pipbake(t, "install", "--lock", lockFile, "--wheelhouse", wheels, "--root", filepath.Join(dir, "srv/app"), "--python", py, "--no-compile")
	if code != 0 {
		t.Fatalf("install: exit %d\n%s\n%s", code, out, errOut)
	}
	got := corpustest.Run(t, filepath.Join(dir, "srv/app/current/bin/python"), nil, "-c", "import flask, importlib.metadata as m; print(m.version('flask'))")
	if want := flask[2].Version; strings.TrimSpace(got) != want || flask[2].Name != "Flask" && flask[2].Name != "flask" {
		t.Fatalf("flask version %q, want %s (%s)", got, want, flask[2].Name)
	}
}

// TestFetchErrors: usage errors exit 2; a fetch that fails exits 1, says
// why, and leaves --out alone; --json reports the problems.
func TestFetchErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := func(p string) string { return filepath.Join(dir, p) }
	r, o := in("r.txt"), in("o")
	os.WriteFile(filepath.Join(dir, "r.txt"), []byte("demo==1.0 \\\n    --hash=sha256:"+strings.Repeat("a", 64)+"\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "empty"), 0o755)
	target := []string{"--python-version", "3.11", "--platform", "manylinux_2_36_x86_64"}
	for _, args := range [][]string{
		{"fetch", "--out", o},
		{"fetch", "--lock", r},
		{"fetch", "--lock", r, "--out", o},
		{"fetch", "--lock", r, "--out", o, "--python-version", "3.11"},
		{"fetch", "--lock", r, "--out", o, "--target-python", "python3", "--platform", "linux_x86_64"},
		{"fetch", "--lock", r, "--out", o, "--python-version", "3.x", "--platform", "linux_x86_64"},
		{"fetch", "--lock", r, "--out", o, "--bogus"},
	} {
		if _, errOut, code := pipbake(t, args...); code != 2 || strings.Count(errOut, "Usage:") != 1 {
			t.Errorf("%v: exit %d: %s", args, code, errOut)
		}
	}
	_, errOut, code := pipbake(t, append([]string{"fetch", "--lock", r, "--out", o, "--source", in("empty"), "--cache", in("c")}, target...)...)
	if code != 1 || !strings.Contains(errOut, "demo==1.0 ("+r+":1): not found in any source") || !strings.Contains(errOut, o+" was left unchanged") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "o")); !os.IsNotExist(err) {
		t.Fatalf("out was created: %v", err)
	}
	out, _, code := pipbake(t, append([]string{"fetch", "--lock", r, "--out", o, "--source", in("empty"), "--cache", in("c"), "--json"}, target...)...)
	var report struct {
		Error    string
		Problems []fetch.Problem
	}
	if code != 1 || json.Unmarshal([]byte(out), &report) != nil || len(report.Problems) != 1 || report.Problems[0].Kind != fetch.NotFound {
		t.Fatalf("json: exit %d: %s", code, out)
	}
	if _, errOut, code := pipbake(t, append([]string{"fetch", "--lock", in("missing.txt"), "--out", o}, target...)...); code != 1 || !strings.Contains(errOut, "missing.txt") {
		t.Fatalf("missing lock: exit %d: %s", code, errOut)
	}
}

// TestFetchSecretsNeverShown: a password in --source and a token in the
// environment never appear on stdout, stderr or in wheelhouse.json, on
// success or failure.
func TestFetchSecretsNeverShown(t *testing.T) {
	const pass, token = "cli-Pa55-word-123", "cli-tok-abcdef-987"
	dir := t.TempDir()
	_, root := flaskIndex(t, dir)
	srv := nginxtest.Start(t, nginxtest.Options{Root: root, Users: map[string]string{"alice": pass, "__token__": token}})
	withPass := strings.Replace(srv.URL, "http://", "http://alice:"+pass+"@", 1) + "/simple/"
	tokenEnv := fetch.EnvTokenPrefix + fetch.EnvHost("127.0.0.1")
	target := []string{"--python-version", "3.11", "--platform", "manylinux_2_36_x86_64"}
	for _, tc := range []struct {
		name   string
		token  string
		source string
		code   int
	}{
		{"password", "", withPass, 0},
		{"token", token, srv.URL + "/simple/", 0},
		{"wrong password", "", strings.Replace(withPass, pass, pass+"-x", 1), 1},
		{"wrong token", token + "-x", srv.URL + "/simple/", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The environment is the process's: these subtests do not run
			// in parallel.
			t.Setenv("NETRC", "/nonexistent")
			t.Setenv(tokenEnv, tc.token)
			outDir := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			args := append([]string{"fetch", "--lock", filepath.Join(dir, "flask.txt"), "--out", outDir, "--source", tc.source, "--cache", filepath.Join(outDir + "-cache")}, target...)
			for _, extra := range [][]string{nil, {"--json"}} {
				out, errOut, code := pipbake(t, append(args, extra...)...)
				if code != tc.code {
					t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
				}
				text := out + errOut
				if data, err := os.ReadFile(filepath.Join(outDir, wheelhouse.IndexName)); err == nil {
					text += string(data)
				}
				for _, secret := range []string{pass, token} {
					if strings.Contains(text, secret) {
						t.Fatalf("%q shown:\n%s", secret, text)
					}
				}
				if tc.code != 0 && !strings.Contains(text, "401 Unauthorized") {
					t.Fatalf("no reason given:\n%s", text)
				}
			}
		})
	}
}
