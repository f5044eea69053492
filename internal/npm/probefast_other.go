//go:build !linux

package npm

import "context"

// probeFast is Linux-only; elsewhere the probe script answers.
func probeFast(context.Context, string, string) (*Runtime, bool) { return nil, false }
