package mmap

import "syscall"

const populate = syscall.MAP_POPULATE
