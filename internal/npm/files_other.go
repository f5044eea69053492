//go:build !unix

package npm

import "os"

type outFile struct{ *os.File }

func createOut(p string, mode os.FileMode) (*outFile, error) {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode.Perm())
	if err != nil {
		return nil, err
	}
	return &outFile{f}, nil
}
