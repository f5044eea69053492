package sshtarget

import (
	"os"
	"testing"
)

// Required reports whether end-to-end prerequisites must be present:
// PIPBAKE_E2E_REQUIRED set to anything but "" or "0" (CI sets it), in which
// case a missing sshd fails the test instead of skipping it.
func Required() bool {
	v := os.Getenv("PIPBAKE_E2E_REQUIRED")
	return v != "" && v != "0"
}

// StartT starts a server for the test and stops it at cleanup, reporting
// sshd's log if the test failed. When sshd, ssh or ssh-keygen is missing it
// skips the test, or fails it if Required.
func StartT(tb testing.TB, opts Options) *Server {
	tb.Helper()
	if err := available(sshdPath(opts.Sshd)); err != nil {
		if Required() {
			tb.Fatalf("%v (PIPBAKE_E2E_REQUIRED is set: install openssh-server and openssh-client)", err)
		}
		tb.Skipf("%v; install openssh-server and openssh-client, or set PIPBAKE_E2E_REQUIRED=1 to fail instead", err)
	}
	s, err := Start(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("sshd log (%s):\n%s", s.LogPath, s.Log())
		}
		if err := s.Stop(); err != nil {
			tb.Error(err)
		}
	})
	return s
}
