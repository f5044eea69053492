//go:build !linux

package chroot

import (
	"errors"
	"syscall"
)

func supported() error { return errors.New("chroot: building a root needs Linux") }

func sysProcAttr() *syscall.SysProcAttr { return nil }

// OverlaySupported is false off Linux.
func OverlaySupported(self, scratch string) bool { return false }

func helperMain(args []string) int { return 125 }
