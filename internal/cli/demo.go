//go:build !pipbake_agent

package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/pipbake/packer-plugin-pipbake/examples/hello"
	"github.com/pipbake/packer-plugin-pipbake/internal/install"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/version"
)

// wantsOCI reports whether demo's arguments ask for the OCI variant
// (demo_oci_linux.go; on other systems demo_oci_other.go says it needs
// Linux).
func wantsOCI(args []string) bool {
	for _, a := range args {
		if a == "--oci" || a == "-oci" || a == "--oci=true" || a == "-oci=true" {
			return true
		}
	}
	return false
}

var demoHelp = commandHelp{
	name: "demo",
	does: "build the hello app embedded in pipbake, install it as a release and run it (--oci: bake it into an OCI image)",
	forms: []string{
		"[--out DIR] [--python PATH] [--release ID]           a native install under DIR/hello",
		"--oci [--out DIR] [--release ID] [--cache-dir DIR]   an OCI image under DIR/hello-oci (Linux, root, debootstrap)",
	},
	example: "pipbake demo --out /tmp/demo",
}

// cmdDemo is the main job on its embedded default: build the hello example
// app (embedded in this binary) into a wheelhouse, install it with its
// pinned lock as a release under <out>/hello, and run it from current.
func cmdDemo(ctx context.Context, s stdio, args []string) error {
	if wantsOCI(args) { // demo_oci.go: the same app baked into an OCI image
		return cmdDemoOCI(ctx, s, args)
	}
	fs := demoHelp.flags(s)
	out := fs.String("out", "out", "output `folder`")
	python := fs.String("python", "python3", "target `interpreter`")
	rel := fs.String("release", "", "release `id` (default: UTC time and lock hash prefix)")
	fs.Bool("oci", false, "bake the app into an OCI image instead (Linux, root, debootstrap; see the second form)")
	if err := fs.parse(args); err != nil {
		return err
	}
	base, err := filepath.Abs(filepath.Join(*out, "hello"))
	if err != nil {
		return err
	}
	wh, lockPath, err := buildHello(s.stdout, base)
	if err != nil {
		return err
	}
	res, err := install.Run(ctx, install.Set{Name: "hello", Lock: lockPath, Python: *python, Root: base, Compile: true},
		install.Options{Release: *rel, Wheelhouse: wh, Log: s.stderr, Version: version.String()})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(s.stdout, "installed release %s into %s in %.2fs\n", res.Release, res.Root, res.Duration.Seconds())
	app := filepath.Join(base, "current", "bin", "hello")
	fmt.Fprintf(s.stdout, "running %s:\n\n", app)
	cmd := exec.CommandContext(ctx, app)
	cmd.Env = target.CleanEnv(os.Environ())
	cmd.Stdout, cmd.Stderr = s.stdout, s.stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("demo: run %s: %w", app, err)
	}
	fmt.Fprintf(s.stdout, "\nnext: pipbake releases --root %s; pipbake verify --root %s\n", base, base)
	return nil
}

// buildHello builds the embedded hello app into <dir>/wheels and writes its
// pinned lock to <dir>/requirements.txt, for both demos.
func buildHello(stdout io.Writer, dir string) (wheelhouse, lockPath string, err error) {
	wheelhouse = filepath.Join(dir, "wheels")
	if err := os.MkdirAll(wheelhouse, 0o755); err != nil {
		return "", "", fmt.Errorf("demo: %w", err)
	}
	built, err := hello.Build(wheelhouse)
	if err != nil {
		return "", "", fmt.Errorf("demo: build the hello app: %w", err)
	}
	fmt.Fprintf(stdout, "built %s (sha256 %s)\n", built.File, built.SHA256)
	lockPath = filepath.Join(dir, "requirements.txt")
	if err := os.WriteFile(lockPath, hello.Lock, 0o644); err != nil {
		return "", "", fmt.Errorf("demo: write lock: %w", err)
	}
	return wheelhouse, lockPath, nil
}
