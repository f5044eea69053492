//go:build !unix

package wheel

import "os"

func umask() os.FileMode { return 0 }

func execMode() os.FileMode { return 0o777 }
