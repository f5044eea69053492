package oci_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/pipbake/packer-plugin-pipbake/examples/hello"
	"github.com/pipbake/packer-plugin-pipbake/internal/chroot"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
	"github.com/pipbake/packer-plugin-pipbake/internal/rootfs"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/basetest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/packertest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/registrytest"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelbuild"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelpack"
)

func TestMain(m *testing.M) {
	chroot.MaybeHelper(os.Args)
	os.Exit(m.Run())
}

const template = `
packer {
  required_plugins {
    pipbake = {
      source  = "github.com/pipbake/pipbake"
      version = ">= 0.1.0"
    }
  }
}

variable "base" { type = string }
variable "target" { type = string }
variable "layout" { type = string }
variable "registry" { type = string }
variable "cache_dir" { type = string }
variable "build_dir" { type = string }
variable "wheelhouse" { type = string }
variable "hello_lock" { type = string }
variable "api_lock" { type = string }

source "pipbake-oci" "app" {
  base                = var.base
  target              = var.target
  output_oci_layout   = var.layout
  insecure_registries = [var.registry]
  cache_dir           = var.cache_dir
  build_dir           = var.build_dir
  family              = "web"
  source_date_epoch   = 1700000000
  entrypoint          = ["/opt/hello/current/bin/hello"]
  env = {
    APP_ENV = "production"
  }
  labels = {
    "org.example.team" = "platform"
  }
  exposed_ports = ["8080/tcp"]
}

build {
  sources = ["source.pipbake-oci.app"]

  provisioner "shell" {
    inline = [
      "echo built-by-shell > /etc/built-by-shell",
      "mkdir -p /tmp/scratch && echo leftover > /tmp/scratch/file",
      "test \"$(hostname)\" = pipbake",
      "test -c /dev/null && test -d /proc/self",
    ]
  }

  provisioner "file" {
    content     = "greeting = hello\n"
    destination = "/etc/hello.conf"
  }

  provisioner "pipbake" {
    wheelhouse = var.wheelhouse
    release    = "r1"

    set {
      name   = "hello"
      lock   = var.hello_lock
      root   = "/opt/hello"
      python = "/usr/bin/python3"
    }

    set {
      name   = "api"
      lock   = var.api_lock
      root   = "/opt/api"
      python = "/usr/bin/python3"
    }
  }
}
`

// TestPackerBuildOCI bakes hello and a Flask set into the Debian base with
// the real Packer, pushes to Debian's docker-registry and writes a layout;
// pulls the image back and runs the app in it; builds again (same digest,
// as source_date_epoch is set; nothing pushed, releases restored from the
// cache); then changes only the app's wheel (only its layer changes).
func TestPackerBuildOCI(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	set := corpustest.Set(t)
	flask, err := set.Closure(context.Background(), "flask")
	if err != nil {
		t.Fatal(err)
	}
	baseLayout := basetest.Layout(t)
	reg := registrytest.Start(t)
	p := packertest.New(t)
	p.InstallPlugin()

	work := t.TempDir()
	wh := filepath.Join(work, "wheels")
	os.MkdirAll(wh, 0o755)
	if _, err := hello.Build(wh); err != nil {
		t.Fatal(err)
	}
	for _, w := range flask {
		os.Symlink(w.Path, filepath.Join(wh, w.File))
	}
	helloLock := filepath.Join(work, "hello.txt")
	os.WriteFile(helloLock, hello.Lock, 0o644)
	apiLock := filepath.Join(work, "api.txt")
	if err := corpus.WriteRequirements(apiLock, flask); err != nil {
		t.Fatal(err)
	}
	base := basetest.Push(t, reg.Host+"/debian:bookworm-python")
	_ = baseLayout
	cache := filepath.Join(work, "cache")
	tpl := p.WriteFile("oci.pkr.hcl", template)
	vars := func(tag, layout, wheelhouse, helloLock string) []string {
		return []string{"-var", "base=" + base, "-var", "target=" + reg.Host + "/web/app:" + tag, "-var", "layout=" + layout,
			"-var", "registry=" + reg.Host, "-var", "cache_dir=" + cache, "-var", "build_dir=" + filepath.Join(work, "builds"), "-var", "wheelhouse=" + wheelhouse,
			"-var", "hello_lock=" + helloLock, "-var", "api_lock=" + apiLock}
	}
	p.FmtCheck(tpl).Must(t)
	p.Init(tpl).Must(t)
	layout1 := filepath.Join(work, "out1")
	start := time.Now()
	r1 := p.Build(tpl, vars("r1", layout1, wh, helloLock)...).Must(t)
	t.Logf("first build: %v", time.Since(start))
	ref1 := pushedRef(t, r1.Output)

	// Pull it back and look inside.
	img := pull(t, ref1)
	m, _ := img.Manifest()
	if len(m.Layers) != 4 { // base, everything else, api, hello
		t.Fatalf("%d layers, want 4", len(m.Layers))
	}
	for k, want := range map[string]string{
		ociimage.AnnotationVersion: "r1", ociimage.AnnotationBaseName: base,
		"pipbake:family": "web", "pipbake:sets": "api@r1,hello@0.1.0",
	} {
		if m.Annotations[k] != want {
			t.Errorf("annotation %s = %q, want %q", k, m.Annotations[k], want)
		}
	}
	if !strings.HasPrefix(m.Annotations[ociimage.AnnotationBaseDigest], "sha256:") {
		t.Errorf("base digest annotation %q", m.Annotations[ociimage.AnnotationBaseDigest])
	}
	cf, _ := img.ConfigFile()
	for k, want := range map[string]string{"pipbake:family": "web", "pipbake:release": "r1", "pipbake:sets": "api@r1,hello@0.1.0", "org.example.team": "platform"} {
		if cf.Config.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, cf.Config.Labels[k], want)
		}
	}
	for _, k := range []string{"pipbake:receipt-sha256", "pipbake:lock-sha256"} {
		if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(cf.Config.Labels[k]) {
			t.Errorf("label %s = %q", k, cf.Config.Labels[k])
		}
	}
	if strings.Join(cf.Config.Entrypoint, " ") != "/opt/hello/current/bin/hello" || !contains(cf.Config.Env, "APP_ENV=production") {
		t.Errorf("config %+v", cf.Config)
	}
	for i, l := range m.Layers {
		if l.MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
			t.Errorf("layer %d media type %s", i, l.MediaType)
		}
	}
	layerNames := layerEntries(t, img)
	wantIn := map[int][]string{
		1: {"etc/built-by-shell", "etc/hello.conf"},
		2: {"opt/api/current", "var/lib/pipbake/receipts/api.json", "var/lib/pipbake/receipts/api.cdx.json"},
		3: {"opt/hello/current", "opt/hello/releases/r1/bin/hello", "var/lib/pipbake/receipts/hello.json"},
	}
	for i, names := range wantIn {
		for _, n := range names {
			if !layerNames[i][n] {
				t.Errorf("layer %d lacks %s", i, n)
			}
		}
	}
	for i := 1; i < 4; i++ {
		for n := range layerNames[i] {
			if strings.HasPrefix(n, "tmp/") || n == "etc/resolv.conf" || strings.HasPrefix(n, "run/pipbake") || strings.HasPrefix(n, "opt/api/") && i != 2 {
				t.Errorf("layer %d leaks %s", i, n)
			}
		}
	}

	// Unpack the pulled image and run the app in it.
	root := unpackImage(t, img)
	sess := &chroot.Session{Spec: chroot.Spec{Dir: root, Env: chroot.DefaultEnv}}
	var out bytes.Buffer
	code, err := sess.Run(context.Background(), "/opt/hello/current/bin/hello && /opt/api/current/bin/flask --version && cat /etc/hello.conf", nil, &out, &out)
	if err != nil || code != 0 || !strings.Contains(out.String(), "Hello from hello 0.1.0") || !strings.Contains(out.String(), "Flask 3.1.3") {
		t.Fatalf("running the baked app: %d %v\n%s", code, err, out.String())
	}

	// The layout holds the same image.
	lb, err := ociimage.Open(ociimage.LayoutPrefix + layout1)
	if err != nil {
		t.Fatal(err)
	}
	if lb.Digest.String() != digestOf(ref1) {
		t.Errorf("layout %s, pushed %s", lb.Digest, ref1)
	}

	// Again: the same digest, nothing new pushed, releases restored.
	start = time.Now()
	r2 := p.Build(tpl, vars("r1-again", filepath.Join(work, "out2"), wh, helloLock)...).Must(t)
	t.Logf("second build: %v", time.Since(start))
	ref2 := pushedRef(t, r2.Output)
	if digestOf(ref2) != digestOf(ref1) {
		t.Fatalf("rebuild changed the digest: %s vs %s", ref1, ref2)
	}
	if !strings.Contains(r2.Output, "(0 new blob(s)") {
		t.Errorf("the rebuild pushed blobs:\n%s", grep(r2.Output, "Pushed"))
	}
	if strings.Count(r2.Output, "from the release cache") != 2 {
		t.Errorf("the rebuild did not restore both sets from the release cache:\n%s", grep(r2.Output, "pipbake:"))
	}

	// Only the app's wheel changes: only the hello layer changes.
	wh2 := filepath.Join(work, "wheels2")
	os.MkdirAll(wh2, 0o755)
	for _, w := range flask {
		os.Symlink(w.Path, filepath.Join(wh2, w.File))
	}
	built := buildChangedHello(t, wh2)
	lock2 := filepath.Join(work, "hello2.txt")
	os.WriteFile(lock2, []byte(fmt.Sprintf("hello==0.1.0 \\\n    --hash=sha256:%s\n", built.SHA256)), 0o644)
	r3 := p.Build(tpl, vars("r1-changed", filepath.Join(work, "out3"), wh2, lock2)...).Must(t)
	img3 := pull(t, pushedRef(t, r3.Output))
	m3, _ := img3.Manifest()
	if len(m3.Layers) != 4 {
		t.Fatalf("%d layers", len(m3.Layers))
	}
	for i := range m.Layers {
		same := m.Layers[i].Digest == m3.Layers[i].Digest
		if (i == 3) == same {
			t.Errorf("layer %d (%s): same=%v after changing only the hello wheel", i, []string{"base", "rest", "api", "hello"}[i], same)
		}
	}
	if !strings.Contains(r3.Output, "(2 new blob(s)") { // the hello layer and the config
		t.Errorf("the changed build pushed:\n%s", grep(r3.Output, "Pushed"))
	}
	root3 := unpackImage(t, img3)
	out.Reset()
	sess3 := &chroot.Session{Spec: chroot.Spec{Dir: root3, Env: chroot.DefaultEnv}}
	if code, err := sess3.Run(context.Background(), "/opt/hello/current/bin/hello", nil, &out, &out); err != nil || code != 0 || !strings.Contains(out.String(), "Hello again") {
		t.Fatalf("changed app: %d %v %s", code, err, out.String())
	}
	// Nothing is left mounted and no build folder remains.
	if data, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(data), cache) {
		t.Error("a mount under the cache outlived the build")
	}
	if ents, _ := os.ReadDir(filepath.Join(work, "builds", "pipbake-oci-builds")); len(ents) != 0 {
		t.Errorf("build folders left: %v", ents)
	}
}

// TestPackerBuildFailureLeavesNothing: a failing provisioner fails the
// build, leaves no layout, no build folder and no mount.
func TestPackerBuildFailureLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	baseLayout := basetest.Layout(t)
	p := packertest.New(t)
	p.InstallPlugin()
	work := t.TempDir()
	cache := filepath.Join(work, "cache")
	layout := filepath.Join(work, "out")
	tpl := p.WriteFile("fail.pkr.hcl", fmt.Sprintf(`
packer {
  required_plugins {
    pipbake = {
      source  = "github.com/pipbake/pipbake"
      version = ">= 0.1.0"
    }
  }
}

source "pipbake-oci" "x" {
  base              = "oci-layout:%s"
  output_oci_layout = "%s"
  cache_dir         = "%s"
  build_dir         = "%s"
  rootfs            = "copy"
}

build {
  sources = ["source.pipbake-oci.x"]
  provisioner "shell" {
    inline = ["echo partial > /etc/partial", "exit 3"]
  }
}
`, baseLayout, layout, cache, filepath.Join(work, "builds")))
	p.Init(tpl).Must(t)
	p.Build(tpl).Fails(t, "exit status: 3")
	if _, err := os.Stat(layout); !os.IsNotExist(err) {
		t.Errorf("a layout was written: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(work, "builds", "pipbake-oci-builds")); len(ents) != 0 {
		t.Errorf("build folders left: %v", ents)
	}
	if ents, _ := filepath.Glob(filepath.Join(work, ".out.*")); len(ents) != 0 {
		t.Errorf("layout leftovers: %v", ents)
	}

	// A failed push: no layout either (the push comes first).
	tpl2 := p.WriteFile("push.pkr.hcl", strings.Replace(strings.Replace(read(t, tpl), "exit 3", "true", 1),
		`output_oci_layout = "`, `target = "127.0.0.1:1/nowhere/app:1"
  insecure_registries = ["127.0.0.1:1"]
  output_oci_layout = "`, 1))
	p.Build(tpl2).Fails(t, "push 127.0.0.1:1/nowhere/app:1")
	if _, err := os.Stat(layout); !os.IsNotExist(err) {
		t.Errorf("a layout was written after a failed push: %v", err)
	}

	// Ctrl-C in the middle of a provisioner: packer is interrupted, the
	// command's namespace dies with its mounts, the build folder goes.
	tpl3 := p.WriteFile("slow.pkr.hcl", strings.Replace(read(t, tpl), "exit 3", "sleep 600", 1))
	// As a terminal does, the interrupt goes to packer's process group
	// (packer wraps itself in a second process).
	cmd := exec.Command(p.Bin, "build", "-color=false", tpl3)
	cmd.Dir, cmd.Env = p.Dir, p.Env()
	// exec copies packer's output into buf from its own goroutines while
	// the test polls it: a buffer with a lock (a bytes.Buffer is a data
	// race under -race).
	var buf lockedBuffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(buf.String(), "Provisioning with shell script") && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err == nil {
			t.Fatalf("the interrupted build succeeded:\n%s", buf.String())
		}
	case <-time.After(time.Minute):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("packer did not stop within a minute of the interrupt:\n%s", buf.String())
	}
	t.Logf("interrupted build:\n%s", buf.String())
	mounted := func() bool {
		data, _ := os.ReadFile("/proc/self/mountinfo")
		return strings.Contains(string(data), work)
	}
	if !testenv.Eventually(10*time.Second, func() bool { return !mounted() }) {
		t.Error("a mount outlived the interrupted build")
	}
	if ents, _ := os.ReadDir(filepath.Join(work, "builds", "pipbake-oci-builds")); len(ents) != 0 {
		t.Errorf("build folders left after the interrupt: %v", ents)
	}
	if _, err := os.Stat(layout); !os.IsNotExist(err) {
		t.Errorf("a layout was written by the interrupted build: %v", err)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, pr := range procs {
		if b, _ := os.ReadFile(pr); bytes.Contains(b, []byte("sleep\x00600")) {
			t.Errorf("%s: the provisioner's sleep still runs", pr)
		}
	}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func buildChangedHello(t *testing.T, dir string) wheelpack.Result {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(hello.Source, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(hello.Source, p)
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, "cli.py") {
			data = bytes.Replace(data, []byte(`"Hello from hello`), []byte(`"Hello again from hello`), 1)
		}
		m[p] = &fstest.MapFile{Data: data, Mode: 0o644}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := wheelbuild.Build(m, dir, wheelbuild.Options{ModTime: wheelpack.DefaultTime})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

var pushedRE = regexp.MustCompile(`Pushed (\S+@sha256:[0-9a-f]{64})`)

func pushedRef(t *testing.T, out string) string {
	t.Helper()
	m := pushedRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no pushed reference in the output:\n%s", out)
	}
	return m[1]
}

func digestOf(ref string) string { _, d, _ := strings.Cut(ref, "@"); return d }

func pull(t *testing.T, ref string) v1.Image {
	t.Helper()
	r, err := ociimage.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// layerEntries lists each layer's entry names (without trailing slashes).
func layerEntries(t *testing.T, img v1.Image) []map[string]bool {
	t.Helper()
	ls, _ := img.Layers()
	out := make([]map[string]bool, len(ls))
	for i, l := range ls {
		out[i] = map[string]bool{}
		if i == 0 {
			continue
		}
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range tarNames(t, rc) {
			out[i][strings.TrimSuffix(n, "/")] = true
		}
		rc.Close()
	}
	return out
}

// unpackImage applies every layer of img to a fresh folder, as a runtime
// would.
func unpackImage(t *testing.T, img v1.Image) string {
	t.Helper()
	root := t.TempDir()
	ls, _ := img.Layers()
	for _, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rootfs.Unpack(root, rc, rootfs.Options{}); err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	return root
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func grep(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func tarNames(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Name)
	}
}

// lockedBuffer is a bytes.Buffer safe to write from one goroutine while
// another reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
