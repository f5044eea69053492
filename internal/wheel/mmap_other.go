//go:build !unix

package wheel

import "os"

func mapFile(f *os.File, size int64) ([]byte, func() error, error) { return readFile(f, size) }
