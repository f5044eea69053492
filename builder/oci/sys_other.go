//go:build !linux

package oci

import (
	"errors"
	"fmt"
	"os"
)

// The builder runs on Linux only (it chroots into the image's root with
// internal/chroot), and the plugin registers it only there
// (cmd/packer-plugin-pipbake/builders_linux.go). Elsewhere the package
// still compiles, for its configuration and tests.

func tryLock(f *os.File) error {
	return fmt.Errorf("pipbake-oci needs Linux: %w", errors.ErrUnsupported)
}

func roomyTmpfs(dir string) bool { return false }
