// Package basetest hands tests the Debian base image with Python that
// internal/debianbase builds (about two minutes the first time, cached
// after), as an OCI layout or pushed to a registry.
//
// Without debootstrap or root the test is skipped, or fails when
// PIPBAKE_E2E_REQUIRED is set (as CI sets it).
package basetest

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/pipbake/packer-plugin-pipbake/internal/debianbase"
	"github.com/pipbake/packer-plugin-pipbake/internal/e2etest"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
)

var (
	once   sync.Once
	layout string
	err    error
)

// Layout returns the base's OCI layout folder (build it once per cache).
func Layout(tb testing.TB) string {
	tb.Helper()
	if os.Geteuid() != 0 {
		e2etest.Missing(tb, "the Debian base needs root (debootstrap, chroot)")
	}
	once.Do(func() {
		if _, ok := debianbase.Cached(debianbase.Options{}); !ok {
			tb.Logf("basetest: building the Debian base with debootstrap (about two minutes, cached after)")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		start := time.Now()
		layout, err = debianbase.Layout(ctx, debianbase.Options{})
		tb.Logf("basetest: base layout %s (%v)", layout, time.Since(start).Round(time.Millisecond))
	})
	if err == debianbase.ErrNoDebootstrap {
		e2etest.Missing(tb, "%v", err)
	}
	if err != nil {
		tb.Fatalf("basetest: %v", err)
	}
	return layout
}

// Push pushes the base to ref (e.g. 127.0.0.1:5000/debian:bookworm-python)
// and returns ref.
func Push(tb testing.TB, ref string) string {
	tb.Helper()
	b, err := ociimage.Open(ociimage.LayoutPrefix+Layout(tb), ociimage.WithKeychain(authn.NewMultiKeychain()))
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
