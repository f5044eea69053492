//go:build !pipbake_agent

package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/pipbake/packer-plugin-pipbake/builder/oci"
	"github.com/pipbake/packer-plugin-pipbake/examples/hello"
	"github.com/pipbake/packer-plugin-pipbake/internal/chroot"
	"github.com/pipbake/packer-plugin-pipbake/internal/debianbase"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
	"github.com/pipbake/packer-plugin-pipbake/internal/rootfs"
	pipbakeprov "github.com/pipbake/packer-plugin-pipbake/provisioner/pipbake"
)

// Every binary that runs the CLI can also be the chroot helper the OCI
// builder re-executes (the demo runs the builder in this process).
func init() { chroot.MaybeHelper(os.Args) }

// cmdDemoOCI is the main job as a container image: build the hello app
// into a wheelhouse, bake it with the pipbake-oci builder and the pipbake
// provisioner (the same code Packer runs, in this process) onto a Debian
// base with Python (debootstrap, built once and cached), write the image
// as an OCI layout under <out>/hello-oci/image, then unpack that image and
// run the app from it.
func cmdDemoOCI(ctx context.Context, s stdio, args []string) error {
	fs := demoHelp.flags(s)
	fs.Bool("oci", true, "bake into an OCI image (this variant)")
	out := fs.String("out", "out", "output `folder`")
	rel := fs.String("release", hello.Version, "release `id`")
	cacheDir := fs.String("cache-dir", "", "image build cache `folder` (default ~/.cache/pipbake/oci)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := chroot.Supported(); err != nil {
		return fmt.Errorf("demo --oci: %w", err)
	}
	dir, err := filepath.Abs(filepath.Join(*out, "hello-oci"))
	if err != nil {
		return err
	}
	wh, lockPath, err := buildHello(s.stdout, dir)
	if err != nil {
		return err
	}
	if _, ok := debianbase.Cached(debianbase.Options{}); !ok {
		fmt.Fprintln(s.stdout, "making the Debian base image with Python (debootstrap, one to two minutes, cached after)")
	}
	base, err := debianbase.Layout(ctx, debianbase.Options{Log: s.stderr})
	if err != nil {
		return fmt.Errorf("demo: base image: %w", err)
	}

	prov := &pipbakeprov.Provisioner{}
	if err := prov.Prepare(map[string]interface{}{
		"wheelhouse": wh,
		"release":    *rel,
		"set":        []map[string]interface{}{{"name": "hello", "lock": lockPath, "root": "/opt/hello", "python": "/usr/bin/python3"}},
	}); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	layout := filepath.Join(dir, "image")
	// The demo's image is reproducible to the digest: its created time is
	// the base's (an image's is otherwise the bake time).
	baseImage, err := ociimage.Open(ociimage.LayoutPrefix + base)
	if err != nil {
		return fmt.Errorf("demo: base image: %w", err)
	}
	cfg := map[string]interface{}{
		"source_date_epoch": baseImage.Config.Created.Unix(),
		"base":              ociimage.LayoutPrefix + base,
		"output_oci_layout": layout,
		"family":            "hello",
		"entrypoint":        []string{"/opt/hello/current/bin/hello"},
	}
	if *cacheDir != "" {
		cfg["cache_dir"] = *cacheDir
	}
	b := &oci.Builder{}
	if _, _, err := b.Prepare(cfg); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	log.SetOutput(io.Discard) // BasicUi also logs every line
	ui := &packersdk.BasicUi{Reader: strings.NewReader(""), Writer: s.stdout, ErrorWriter: s.stderr}
	start := time.Now()
	art, err := b.Run(ctx, ui, provisionHook{prov})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(s.stdout, "baked %s in %.2fs\n", art.Id(), time.Since(start).Seconds())

	// Run the app from the image: unpack its layers as a runtime would and
	// run the entrypoint inside.
	img, err := ociimage.Open(ociimage.LayoutPrefix + layout)
	if err != nil {
		return err
	}
	root := filepath.Join(dir, "rootfs")
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(root)
	layers, err := img.Image.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return err
		}
		_, err = rootfs.Unpack(root, rc, rootfs.Options{})
		rc.Close()
		if err != nil {
			return fmt.Errorf("demo: unpack the image: %w", err)
		}
	}
	entry := strings.Join(img.Config.Config.Entrypoint, " ")
	fmt.Fprintf(s.stdout, "running %s from the image (labels: pipbake:sets=%s, pipbake:release=%s):\n\n", entry,
		img.Config.Config.Labels[ociimage.LabelSets], img.Config.Config.Labels[ociimage.LabelRelease])
	sess := &chroot.Session{Spec: chroot.Spec{Dir: root, Env: chroot.DefaultEnv}}
	var stderr bytes.Buffer
	code, err := sess.Run(ctx, entry, nil, s.stdout, &stderr)
	if err != nil {
		return fmt.Errorf("demo: run %s: %w", entry, err)
	}
	if code != 0 {
		return fmt.Errorf("demo: %s exited with status %d: %s", entry, code, stderr.String())
	}
	fmt.Fprintf(s.stdout, "\nthe image: %s (OCI layout; push it with any OCI tool, or bake to a registry with the pipbake-oci builder's target)\n", layout)
	return nil
}

// provisionHook runs one provisioner on Packer's provision hook, as Packer
// does for a template with one provisioner block.
type provisionHook struct{ p packersdk.Provisioner }

func (h provisionHook) Run(ctx context.Context, name string, ui packersdk.Ui, comm packersdk.Communicator, data interface{}) error {
	if name != packersdk.HookProvision {
		return nil
	}
	m, _ := data.(map[string]interface{})
	return h.p.Provision(ctx, ui, comm, m)
}
