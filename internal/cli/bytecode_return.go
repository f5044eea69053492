package cli

import (
	"fmt"
	"io"

	"github.com/pipbake/packer-plugin-pipbake/internal/pyccache"
)

// returnBytecode moves what the install compiled into the bytecode cache
// dir out as the pack file out (install --bytecode-return): the
// provisioner brings it back to the Packer host's cache. Whatever
// happens, the install's outcome stands; a failure is only said.
func returnBytecode(dir, out string, log io.Writer) {
	st, err := pyccache.ExportLoose(dir, out)
	if log == nil {
		return
	}
	if err != nil {
		fmt.Fprintf(log, "pipbake: warning: compiled bytecode not returned: %v\n", err)
		return
	}
	fmt.Fprintf(log, "pipbake: bytecode: %d compiled files returned (%s)\n", st.Entries, pyccache.FormatSize(st.Bytes))
}
