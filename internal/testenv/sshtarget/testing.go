package sshtarget

import (
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/testenv"
)

// StartT starts a server for the test and stops it at cleanup, reporting
// sshd's log if the test failed. When sshd, ssh or ssh-keygen is missing it
// skips the test, or fails it if Required; under -short it skips.
func StartT(tb testing.TB, opts Options) *Server {
	tb.Helper()
	testenv.SkipShort(tb, "starts sshd")
	if err := available(sshdPath(opts.Sshd)); err != nil {
		testenv.Missing(tb, "%v (install openssh-server and openssh-client)", err)
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
