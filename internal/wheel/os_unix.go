//go:build unix

package wheel

import (
	"os"

	umaskpkg "github.com/pipbake/packer-plugin-pipbake/internal/umask"
)

func umask() os.FileMode { return umaskpkg.Get() }

// execMode is the mode pip gives executable members: 0777 less the umask,
// plus every execute bit.
func execMode() os.FileMode { return (0o777 &^ umask()) | 0o111 }
