package wheel

import "github.com/pipbake/packer-plugin-pipbake/internal/outfile"

// Dirs remembers the directories an install has made or found, so that
// each file is created with one open and each directory with one mkdir.
// Share one Dirs between the wheels of an environment through
// Options.Dirs; it is safe for concurrent use. The zero value is ready.
type Dirs = outfile.Dirs
