//go:build !pipbake_agent && !linux

package cli

import (
	"context"
	"errors"
	"fmt"
	"runtime"
)

// errOCIDemoNeedsLinux is what `demo --oci` says off Linux: the
// pipbake-oci builder chroots into the image's root (internal/chroot) and
// the Debian base is made with debootstrap. `pipbake demo` (the native
// install) works here.
var errOCIDemoNeedsLinux = errors.New("the OCI demo needs Linux (the pipbake-oci builder runs the build in a Linux chroot); run `pipbake demo` without --oci for the native install")

func cmdDemoOCI(context.Context, stdio, []string) error {
	return fmt.Errorf("demo --oci on %s: %w", runtime.GOOS, errOCIDemoNeedsLinux)
}
