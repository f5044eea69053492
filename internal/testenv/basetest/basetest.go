// Package basetest hands tests the Debian base image with Python that
// internal/debianbase builds (about two minutes the first time, cached
// after), as an OCI layout or pushed to a registry.
//
// Without debootstrap or root the test is skipped, or fails when
// PIPBAKE_E2E_REQUIRED is set (as CI sets it).
package basetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/pipbake/packer-plugin-pipbake/internal/debianbase"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv"
)

// built is a base layout made at most once per test binary.
type built struct {
	o       debianbase.Options
	what    string // for the log and the skip message
	timeout time.Duration
	once    sync.Once
	dir     string
	err     error
}

var base = &built{what: "the Debian base", timeout: 15 * time.Minute}

// get returns the layout, building it (and saying so) when it is not
// cached; without root or debootstrap tb skips, or fails under
// PIPBAKE_E2E_REQUIRED.
func (b *built) get(tb testing.TB) string {
	tb.Helper()
	testenv.SkipShort(tb, "builds or uses a Debian base (debootstrap, chroot, mounts)")
	testenv.Root(tb, b.what+" (debootstrap, chroot, mounts)")
	b.once.Do(func() {
		if _, ok := debianbase.Cached(b.o); !ok {
			tb.Logf("basetest: building %s with debootstrap (one to three minutes, cached after)", b.what)
		}
		ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
		defer cancel()
		start := time.Now()
		b.dir, b.err = debianbase.Layout(ctx, b.o)
		tb.Logf("basetest: %s: layout %s (%v)", b.what, b.dir, time.Since(start).Round(time.Millisecond))
	})
	if b.err == debianbase.ErrNoDebootstrap {
		testenv.Missing(tb, "%v", b.err)
	}
	if b.err != nil {
		tb.Fatalf("basetest: %s: %v", b.what, b.err)
	}
	return b.dir
}

// Layout returns the base's OCI layout folder (build it once per cache).
func Layout(tb testing.TB) string {
	tb.Helper()
	return base.get(tb)
}

// Push pushes the base to ref (e.g. 127.0.0.1:5000/debian:bookworm-python)
// and returns ref.
func Push(tb testing.TB, ref string) string {
	tb.Helper()
	return push(tb, Layout(tb), ref)
}

func push(tb testing.TB, layout, ref string) string {
	tb.Helper()
	b, err := ociimage.Open(ociimage.LayoutPrefix+layout, ociimage.WithKeychain(authn.NewMultiKeychain()))
	if err != nil {
		tb.Fatal(err)
	}
	r, err := ociimage.ParseReference(ref)
	if err != nil {
		tb.Fatal(err)
	}
	if err := remote.Write(r, b.Image); err != nil {
		tb.Fatalf("push the base to %s: %v", ref, err)
	}
	return ref
}

// MachinePackages are the packages of the second Debian base, a machine
// with both runtimes: Python, Debian's nodejs (for Node.js sets), and
// what Packer and a provisioner's execute_command need on a machine (scp
// for uploads, sudo). One base for MachineRoot and the Node.js tests, not
// one each: a debootstrap costs about 100 CPU-seconds, most of it
// spawning processes (README, "What CI costs").
var MachinePackages = []string{"python3", "python3-venv", "nodejs", "sudo", "openssh-client"}

var machine = &built{o: debianbase.Options{Packages: MachinePackages}, what: "the machine's Debian (Python, nodejs, sudo, ssh)", timeout: 20 * time.Minute}

// NodeLayout returns the layout of the Debian base with nodejs
// (MachinePackages; built with debootstrap the first time, a few
// minutes; cached after).
func NodeLayout(tb testing.TB) string {
	tb.Helper()
	return machine.get(tb)
}

// PushNode pushes the Debian base with nodejs (NodeLayout) to ref and
// returns ref.
func PushNode(tb testing.TB, ref string) string {
	tb.Helper()
	return push(tb, machine.get(tb), ref)
}
