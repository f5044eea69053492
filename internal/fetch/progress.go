package fetch

import (
	"io"

	pm "github.com/pipbake/packer-plugin-pipbake/internal/progress"
)

// progress reports a fetch through internal/progress: on a terminal one
// line redrawn in place,
//
//	fetch [##########··············]  45/90 wheels  31.2 MB  12.4 MB/s
//
// elsewhere (CI, Packer's UI) a plain line every few seconds, and nothing
// for a fetch done within a second.
type progress struct{ m *pm.Meter }

func newProgress(w io.Writer, total int, unit string) *progress {
	if w == nil {
		return &progress{}
	}
	return &progress{m: pm.Start(w, "fetch", pm.Total(total), pm.Unit(unit))}
}

// counter counts bytes as they stream through.
func (p *progress) counter(r io.Reader) io.Reader { return p.m.Reader(r) }

func (p *progress) pinDone() { p.m.Add(1) }

func (p *progress) finish() { p.m.Stop() }

// println writes a log line without tearing the bar.
func (p *progress) println(w io.Writer, line string) { p.m.Println(w, line) }
