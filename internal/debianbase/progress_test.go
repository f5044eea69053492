package debianbase

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/progress"
)

// a debootstrap transcript's shape: stages, packages, a warning
const transcript = `I: Retrieving InRelease 
I: Checking Release signature
I: Retrieving Packages 
I: Validating Packages 
I: Resolving dependencies of required packages...
I: Retrieving base-files 12.4+deb12u11
I: Validating base-files 12.4+deb12u11
I: Retrieving libc6 2.36-9+deb12u10
I: Validating libc6 2.36-9+deb12u10
W: Failure trying to run: chroot "/x" mount -t proc proc /proc
I: Extracting base-files...
I: Extracting libc6...
I: Unpacking base-files...
I: Configuring libc6...
I: Base system installed successfully.
`

// TestDebootstrapOutput: hundreds of lines become a few progress lines
// with the stage and a count of packages; warnings pass through; a failure
// keeps the last lines for its error.
func TestDebootstrapOutput(t *testing.T) {
	var log bytes.Buffer
	d := newDebootstrapOutput(&log, progress.WithMode(progress.Lines), progress.Delay(0), progress.Every(time.Millisecond))
	for _, l := range strings.SplitAfter(transcript, "\n") {
		d.Write([]byte(l))
		time.Sleep(3 * time.Millisecond)
	}
	last := d.close(true)
	out := log.String()
	if strings.Contains(out, "I: Retrieving") || strings.Contains(out, "I: Extracting") {
		t.Errorf("debootstrap's own lines reached the log:\n%s", out)
	}
	if !strings.Contains(out, "debianbase: debootstrap: W: Failure trying to run") {
		t.Errorf("the warning did not pass through:\n%s", out)
	}
	for _, want := range []string{"retrieving", "configuring", "2 packages"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the progress lines:\n%s", want, out)
		}
	}
	if !strings.Contains(last, "I: Base system installed successfully.") || !strings.Contains(last, "I: Configuring libc6...") {
		t.Errorf("the failure's last lines: %q", last)
	}
}
