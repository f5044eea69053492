package cli

import (
	"bytes"
	"strings"
	"testing"
)

// invoke runs the command line in process, as Main would, with its
// standard output and error captured, and returns them with the exit
// status and the error (already printed to stderr, as Main prints it).
func invoke(t testing.TB, args ...string) (stdout, stderr string, code int, err error) {
	t.Helper()
	var o, e bytes.Buffer
	code, err = execute(t.Context(), args, stdio{stdin: strings.NewReader(""), stdout: &o, stderr: &e})
	return o.String(), e.String(), code, err
}

// pipbake runs the command line and returns its standard output, exit
// status and error.
func pipbake(t testing.TB, args ...string) (string, int, error) {
	t.Helper()
	stdout, _, code, err := invoke(t, args...)
	return stdout, code, err
}

// captured runs the command line and returns its standard output and
// error and exit status.
func captured(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	stdout, stderr, code, _ = invoke(t, args...)
	return stdout, stderr, code
}
