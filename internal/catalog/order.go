package catalog

import (
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/release"
)

// Compare orders two releases of a family: by release id (digit runs as
// numbers, as internal/release orders ids), then by creation date. It
// returns -1, 0 or +1.
func Compare(aRelease string, aCreated time.Time, bRelease string, bCreated time.Time) int {
	switch {
	case release.Less(aRelease, bRelease):
		return -1
	case release.Less(bRelease, aRelease):
		return 1
	case aCreated.Before(bCreated):
		return -1
	case bCreated.Before(aCreated):
		return 1
	}
	return 0
}
