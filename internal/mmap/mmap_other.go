//go:build !unix

// Package mmap maps files read-only, so large archives are read as memory
// (page-cache copies) instead of a pread per block.
package mmap

import "os"

// File does not map here: ok is false and the caller reads through f.
func File(f *os.File, size int64) (data []byte, unmap func() error, ok bool) {
	return nil, nil, false
}

// Populated does not map here either.
func Populated(f *os.File, size int64) (data []byte, unmap func() error, ok bool) {
	return nil, nil, false
}
