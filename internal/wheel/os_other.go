//go:build !unix

package wheel

import "os"

// noFollow is not available here; destinations are checked to stay inside
// the environment before anything is written.
const noFollow = 0

func umask() os.FileMode { return 0 }

func execMode() os.FileMode { return 0o777 }
