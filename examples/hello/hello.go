// Package hello embeds the demo Python application "hello" (a src-layout
// project with a console script) and its hashed lock, so pipbake can build
// and install it without the repository at hand.
package hello

import (
	"embed"
	"io/fs"

	"github.com/pipbake/packer-plugin-pipbake/internal/wheelbuild"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelpack"
)

// Name and Version of the app, as pyproject.toml declares them.
const (
	Name    = "hello"
	Version = "0.1.0"
)

//go:embed pyproject.toml README.md all:src
var source embed.FS

// Source is the app's source tree: pyproject.toml, README.md and src/hello.
// internal/wheelbuild builds it.
var Source fs.FS = source

// Lock is requirements.txt: hello==0.1.0 pinned to the sha256 of the wheel
// Build produces.
//
//go:embed requirements.txt
var Lock []byte

// Build builds the app's wheel into dir. It always uses the fixed 1980
// timestamp (ignoring SOURCE_DATE_EPOCH), so the wheel's sha256 is the one
// Lock pins.
func Build(dir string) (wheelpack.Result, error) {
	return wheelbuild.Build(Source, dir, wheelbuild.Options{ModTime: wheelpack.DefaultTime})
}
