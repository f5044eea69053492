// Package umask reads the process's file mode creation mask without
// changing it (syscall.Umask would, racing with other goroutines).
package umask

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Get returns the umask, read once from /proc/self/status (0022 where that
// is unavailable).
var Get = sync.OnceValue(func() os.FileMode {
	f, err := os.Open("/proc/self/status")
	if err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "Umask:"); ok {
				if n, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					return os.FileMode(n)
				}
			}
		}
	}
	return 0o022
})
