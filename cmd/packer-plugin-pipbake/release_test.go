package main

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/packertest"
)

// TestRelease checks .goreleaser.yml end to end: `goreleaser check`, then a
// snapshot release into a temporary dist folder, and what Packer and users
// get from it:
//
//   - the plugin zips, binaries, CLI archives and the _SHA256SUMS file are
//     named as Packer's installer expects, and the checksums are right;
//   - each zip holds just its binary; the linux/amd64 plugin answers
//     describe with the snapshot's version and api_version x5.0, passes
//     packer-sdc plugin-check, and `packer plugins install --path` installs
//     it under the very name goreleaser gave it;
//   - every plugin binary embeds both agents the before hooks built, byte
//     for byte, and those agents have the plugin's version;
//   - the pipbake-oci builder (a Linux chroot) is in the linux plugins and
//     CLIs only: the others neither register it nor carry its code, and
//     their CLI's `demo --oci` says it needs Linux (only the host's
//     binaries are run, so this is checked on the code they contain);
//   - the agent package's release test (-tags embedagents) passes;
//   - the CLI archive's pipbake has the same version.
//
// It runs only when PIPBAKE_RELEASE_CHECK is set (.ci/release-check.sh sets
// it): "ci" builds linux/amd64 only (a copy of the config with goos
// [linux] and goarch [amd64]; the before hooks still build both embedded
// agents), what CI runs to stay fast; "linux" builds the linux targets
// (goos [linux]); "all" builds every platform the config lists. goreleaser
// comes from $PIPBAKE_GORELEASER or .ci/tools.sh's cache. The before hooks
// write internal/agent/agents/ (gitignored) in the working tree.
func TestRelease(t *testing.T) {
	mode := os.Getenv("PIPBAKE_RELEASE_CHECK")
	if mode == "" || mode == "0" {
		t.Skip("set PIPBAKE_RELEASE_CHECK=linux (or all) to build a snapshot release (.ci/release-check.sh)")
	}
	goosAll := []string{"linux", "darwin", "windows"}
	goarch := []string{"amd64", "arm64"}
	var goos []string
	switch mode {
	case "ci":
		goos, goarch = []string{"linux"}, []string{"amd64"}
	case "linux", "1":
		goos = []string{"linux"}
	case "all":
		goos = goosAll
	default:
		t.Fatalf("PIPBAKE_RELEASE_CHECK=%q: want ci, linux or all", mode)
	}
	goreleaser := findGoreleaser(t)
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = root
		cmd.Env = target.CleanEnv(os.Environ())
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
		}
		t.Logf("%s %s: %v", filepath.Base(name), strings.Join(args, " "), time.Since(start).Round(time.Second))
		return string(out)
	}

	run(goreleaser, "check")

	// The config, with dist in a temporary folder and, for "linux", the
	// builds' goos lists cut down.
	cfg, err := os.ReadFile(filepath.Join(root, ".goreleaser.yml"))
	if err != nil {
		t.Fatal(err)
	}
	const goosLine = "    goos: [linux, darwin, windows]\n"
	if n := bytes.Count(cfg, []byte(goosLine)); n != 2 {
		t.Fatalf(".goreleaser.yml has %d lines %q, want one per build (2); keep this test in step", n, strings.TrimSpace(goosLine))
	}
	cfg = bytes.ReplaceAll(cfg, []byte(goosLine), []byte("    goos: ["+strings.Join(goos, ", ")+"]\n"))
	const goarchLine = "    goarch: [amd64, arm64]\n"
	if n := bytes.Count(cfg, []byte(goarchLine)); n != 2 {
		t.Fatalf(".goreleaser.yml has %d lines %q, want one per build (2); keep this test in step", n, strings.TrimSpace(goarchLine))
	}
	cfg = bytes.ReplaceAll(cfg, []byte(goarchLine), []byte("    goarch: ["+strings.Join(goarch, ", ")+"]\n"))
	tmp := t.TempDir()
	dist := filepath.Join(tmp, "dist")
	cfg = append(cfg, "\ndist: "+dist+"\n"...)
	cfgPath := filepath.Join(tmp, "goreleaser.yml")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	run(goreleaser, "release", "--snapshot", "--clean", "--skip=publish,sign", "--config", cfgPath)

	var meta struct {
		ProjectName string `json:"project_name"`
		Version     string `json:"version"`
	}
	readJSON(t, filepath.Join(dist, "metadata.json"), &meta)
	ver := meta.Version
	if meta.ProjectName != "packer-plugin-pipbake" || !strings.HasSuffix(ver, "-dev") {
		t.Fatalf("metadata.json: project %q version %q; want packer-plugin-pipbake and a -dev snapshot version", meta.ProjectName, ver)
	}
	t.Logf("snapshot version %s", ver)

	agents := map[string][]byte{}
	for _, arch := range []string{"amd64", "arm64"} {
		p := filepath.Join(root, "internal", "agent", "agents", "pipbake_linux_"+arch)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("the before hook's agent: %v", err)
		}
		agents[arch] = b
	}
	if runtime.GOOS == "linux" {
		if out, err := exec.Command(filepath.Join(root, "internal", "agent", "agents", "pipbake_linux_"+runtime.GOARCH), "version").Output(); err != nil ||
			strings.TrimSpace(string(out)) != "pipbake "+ver {
			t.Errorf("embedded agent: pipbake version = %q %v, want pipbake %s", out, err, ver)
		}
	}

	// Every expected archive, and nothing else in the checksum file.
	sums := readSums(t, filepath.Join(dist, "packer-plugin-pipbake_v"+ver+"_SHA256SUMS"))
	want := map[string]bool{}
	unpacked := filepath.Join(tmp, "unpacked")
	var hostPlugin, hostCLI string
	for _, os_ := range goos {
		for _, arch := range goarch {
			exe := ""
			if os_ == "windows" {
				exe = ".exe"
			}
			binName := fmt.Sprintf("packer-plugin-pipbake_v%s_x5.0_%s_%s", ver, os_, arch)
			zipName := binName + ".zip"
			cliName := fmt.Sprintf("pipbake_%s_%s_%s.tar.gz", ver, os_, arch)
			if os_ == "windows" {
				cliName = strings.TrimSuffix(cliName, ".tar.gz") + ".zip"
			}
			want[zipName], want[cliName] = true, true

			// The plugin zip holds exactly its binary, which embeds both agents.
			files := unpackArchive(t, filepath.Join(dist, zipName), filepath.Join(unpacked, zipName))
			if len(files) != 1 || files[0] != binName+exe {
				t.Errorf("%s holds %v, want just %s", zipName, files, binName+exe)
				continue
			}
			bin, err := os.ReadFile(filepath.Join(unpacked, zipName, binName+exe))
			if err != nil {
				t.Fatal(err)
			}
			for arch, agent := range agents {
				if !bytes.Contains(bin, agent) {
					t.Errorf("%s does not embed the linux/%s agent (%d bytes)", binName, arch, len(agent))
				}
			}
			t.Logf("%s: %.1f MB, embeds both agents (%.1f MB and %.1f MB)", zipName,
				float64(len(bin))/1e6, float64(len(agents["amd64"]))/1e6, float64(len(agents["arm64"]))/1e6)

			cli := unpackArchive(t, filepath.Join(dist, cliName), filepath.Join(unpacked, cliName))
			if !contains(cli, "pipbake"+exe) {
				t.Errorf("%s holds %v, want pipbake%s", cliName, cli, exe)
				continue
			}
			cliBin, err := os.ReadFile(filepath.Join(unpacked, cliName, "pipbake"+exe))
			if err != nil {
				t.Fatal(err)
			}
			for name, b := range map[string][]byte{binName: bin, cliName: cliBin} {
				if got, want := bytes.Contains(b, ociBuilderCode), os_ == "linux"; got != want {
					t.Errorf("%s: carries the pipbake-oci builder's code: %v, want %v (builders_linux.go, internal/cli/demo_oci_linux.go)", name, got, want)
				}
			}
			if os_ != "linux" && !bytes.Contains(cliBin, []byte("the OCI demo needs Linux")) {
				t.Errorf("%s: pipbake lacks demo --oci's message that it needs Linux (internal/cli/demo_oci_other.go)", cliName)
			}
			if os_ == runtime.GOOS && arch == runtime.GOARCH {
				hostPlugin = filepath.Join(unpacked, zipName, binName+exe)
				hostCLI = filepath.Join(unpacked, cliName, "pipbake"+exe)
			}
		}
	}
	for name := range want {
		sum, ok := sums[name]
		if !ok {
			t.Errorf("%s is not in the checksum file", name)
			continue
		}
		if got := fileSHA256(t, filepath.Join(dist, name)); got != sum {
			t.Errorf("%s: sha256 %s, checksum file says %s", name, got, sum)
		}
	}
	for name := range sums {
		if !want[name] {
			t.Errorf("the checksum file lists %s, which is not an expected archive", name)
		}
	}
	if t.Failed() || hostPlugin == "" {
		return
	}

	// What Packer does with the host's plugin.
	os.Chmod(hostPlugin, 0o755)
	os.Chmod(hostCLI, 0o755)
	d := describe(t, hostPlugin)
	if d.Version != ver || d.APIVersion != "x5.0" || len(d.Provisioners) == 0 {
		t.Errorf("describe = %+v; want version %s, api_version x5.0 and the provisioner", d, ver)
	}
	if hasOCI := contains(d.Builders, "oci"); hasOCI != (runtime.GOOS == "linux") {
		t.Errorf("describe lists builders %v on %s; want the oci builder on linux only", d.Builders, runtime.GOOS)
	}
	pluginCheck(t, hostPlugin)
	p := packertest.New(t)
	installed := p.InstallPluginBinary(hostPlugin)
	if filepath.Base(installed) != filepath.Base(hostPlugin) {
		t.Errorf("packer installed the plugin as %s; goreleaser named it %s", filepath.Base(installed), filepath.Base(hostPlugin))
	}
	if out, err := exec.Command(hostCLI, "version").Output(); err != nil || strings.TrimSpace(string(out)) != "pipbake "+ver {
		t.Errorf("%s version = %q %v, want pipbake %s", hostCLI, out, err, ver)
	}

	// The agent package's own release test, on the agents just built.
	run("go", "test", "-count=1", "-tags", "embedagents", "./internal/agent")
}

// ociBuilderCode is in every binary that links builder/oci: its functions'
// names stay in the Go symbol table (pclntab) with -s -w and -trimpath.
var ociBuilderCode = []byte("github.com/pipbake/packer-plugin-pipbake/builder/oci.")

// findGoreleaser returns $PIPBAKE_GORELEASER, else the binary .ci/tools.sh
// caches.
func findGoreleaser(t *testing.T) string {
	t.Helper()
	p := os.Getenv("PIPBAKE_GORELEASER")
	if p == "" {
		p = filepath.Join(packertest.CacheDir(), "tools", "bin", "goreleaser")
	}
	if st, err := os.Stat(p); err != nil || st.IsDir() {
		t.Fatalf("no goreleaser at %s: run PIPBAKE_TOOLS=goreleaser .ci/tools.sh, or set PIPBAKE_GORELEASER", p)
	}
	return p
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// readSums reads a sha256sum-format file as Packer's installer does: two
// fields a line.
func readSums(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 || len(fields[0]) != 64 {
			t.Errorf("%s: line %q is not `<sha256>  <file>`", filepath.Base(path), sc.Text())
			continue
		}
		sums[fields[1]] = fields[0]
	}
	return sums
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// unpackArchive extracts a .zip or .tar.gz into dir and returns the names
// of its regular files.
func unpackArchive(t *testing.T, path, dir string) []string {
	t.Helper()
	var names []string
	write := func(name string, r io.Reader) {
		if strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
			t.Fatalf("%s: unsafe name %q", path, name)
		}
		dst := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(dst), 0o755)
		f, err := os.Create(dst)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := io.Copy(f, r); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	if strings.HasSuffix(path, ".zip") {
		z, err := zip.OpenReader(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		defer z.Close()
		for _, f := range z.File {
			if f.FileInfo().IsDir() {
				continue
			}
			r, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			write(f.Name, r)
			r.Close()
		}
		return names
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if h.Typeflag == tar.TypeReg {
			write(h.Name, tr)
		}
	}
	return names
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
