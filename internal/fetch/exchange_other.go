//go:build !linux

package fetch

import "errors"

// exchange is not available here: replaceDir moves the old output aside.
func exchange(a, b string) error { return errors.New("no atomic exchange on this system") }
