// Package e2etest is TEST-ONLY: the one rule for end-to-end prerequisites
// (sshd, packer, nginx, moto_server, a registry, debootstrap). Where one is
// missing a test skips, unless PIPBAKE_E2E_REQUIRED is set to anything but
// "" or "0" (CI sets it), so that CI cannot pass by skipping.
package e2etest

import (
	"os"
	"testing"
)

// Required reports whether PIPBAKE_E2E_REQUIRED asks missing prerequisites
// to fail tests rather than skip them.
func Required() bool {
	v := os.Getenv("PIPBAKE_E2E_REQUIRED")
	return v != "" && v != "0"
}

// Missing skips tb, or fails it when Required.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if Required() {
		tb.Fatalf(format+" (and PIPBAKE_E2E_REQUIRED is set)", args...)
	}
	tb.Skipf(format+"; set PIPBAKE_E2E_REQUIRED=1 to fail instead", args...)
}
