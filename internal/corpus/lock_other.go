//go:build !unix

package corpus

// lockDir is a no-op where flock is unavailable; concurrent repacks then
// still produce identical files, only twice.
func lockDir(dir string) (unlock func(), err error) { return func() {}, nil }
