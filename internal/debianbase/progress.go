package debianbase

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/pipbake/packer-plugin-pipbake/internal/progress"
)

// stages are the verbs of debootstrap's "I: <Verb> <package>" lines and
// the stage each one means.
var stages = map[string]string{
	"Retrieving":  "retrieving",
	"Validating":  "validating",
	"Extracting":  "extracting",
	"Unpacking":   "unpacking",
	"Configuring": "configuring",
}

// debootstrapOutput turns debootstrap's output (a few hundred lines) into
// a meter of its stage and the packages it has downloaded: one line
// redrawn on a terminal, a line now and then in a log. Warnings and errors
// (W:, E:) pass through as they come; the last lines are kept for the
// error when debootstrap fails.
type debootstrapOutput struct {
	log   io.Writer
	meter *progress.Meter
	mu    sync.Mutex
	part  []byte
	stage string
	tail  []string
}

func newDebootstrapOutput(log io.Writer, opts ...progress.Option) *debootstrapOutput {
	opts = append([]progress.Option{progress.Unit("packages")}, opts...)
	return &debootstrapOutput{log: log, meter: progress.Start(log, "debianbase: debootstrap", opts...)}
}

func (d *debootstrapOutput) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.part = append(d.part, p...)
	for {
		i := bytes.IndexByte(d.part, '\n')
		if i < 0 {
			return len(p), nil
		}
		d.line(strings.TrimRight(string(d.part[:i]), "\r"))
		d.part = d.part[i+1:]
	}
}

func (d *debootstrapOutput) line(l string) {
	if len(d.tail) == 20 {
		d.tail = d.tail[1:]
	}
	d.tail = append(d.tail, l)
	verb, rest, _ := strings.Cut(strings.TrimPrefix(l, "I: "), " ")
	switch {
	case strings.HasPrefix(l, "W: ") || strings.HasPrefix(l, "E: "):
		d.meter.Println(d.log, "debianbase: debootstrap: "+l)
	case strings.HasPrefix(l, "I: ") && stages[verb] != "":
		if stages[verb] != d.stage {
			d.stage = stages[verb]
			d.meter.Status(d.stage)
		}
		// a package downloaded: "Retrieving NAME VERSION" (not the
		// indexes: "Retrieving InRelease", "Retrieving Packages")
		if verb == "Retrieving" && strings.Count(strings.TrimSpace(rest), " ") == 1 {
			d.meter.Add(1)
		}
	}
}

// close stops the meter; after a failure, it returns debootstrap's last
// lines for the error.
func (d *debootstrapOutput) close(failed bool) string {
	d.meter.Stop()
	if !failed {
		return ""
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return fmt.Sprintf("; its last lines:\n  %s", strings.Join(d.tail, "\n  "))
}
