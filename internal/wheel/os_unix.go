package wheel

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"os"
	"syscall"

	umaskpkg "github.com/pipbake/packer-plugin-pipbake/internal/umask"
)

const noFollow = syscall.O_NOFOLLOW

func umask() os.FileMode { return umaskpkg.Get() }

// execMode is the mode pip gives executable members: 0777 less the umask,
// plus every execute bit.
func execMode() os.FileMode { return (0o777 &^ umask()) | 0o111 }

func newHash(alg string) (hash.Hash, error) {
	switch alg {
	case "sha256":
		return sha256.New(), nil
	case "sha384":
		return sha512.New384(), nil
	case "sha512":
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("unsupported hash algorithm %q", alg)
}
