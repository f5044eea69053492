package sshtarget

import (
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/e2etest"
)

// StartT starts a server for the test and stops it at cleanup, reporting
// sshd's log if the test failed. When sshd, ssh or ssh-keygen is missing it
// skips the test, or fails it if Required.
func StartT(tb testing.TB, opts Options) *Server {
	tb.Helper()
	if err := available(sshdPath(opts.Sshd)); err != nil {
		if e2etest.Required() {
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
