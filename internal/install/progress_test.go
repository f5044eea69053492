package install

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/progress"
)

// TestInstallLogsProgress: an install says how it goes while it runs, past
// a second (in plain lines where the log is no terminal: Packer's UI, CI),
// and closes with the count, bytes and rate.
func TestInstallLogsProgress(t *testing.T) {
	t.Setenv(progress.EnvMode, "")
	defer func(d time.Duration) { progressDelay = d }(progressDelay)
	progressDelay = 0
	py := corpustest.Python(t)
	wheels := flaskClosure(t)
	wh, lockPath := house(t, wheels)
	root := filepath.Join(t.TempDir(), "api")
	var log bytes.Buffer
	if _, err := Run(context.Background(), Set{Name: "api", Lock: lockPath, Python: py, Root: root},
		Options{Release: "r1", Wheelhouse: wh, Version: "test", Log: &log}); err != nil {
		t.Fatal(err)
	}
	got := log.String()
	if strings.ContainsAny(got, "\r\x1b") {
		t.Errorf("carriage return or escape in a log that is no terminal:\n%q", got)
	}
	summary := regexp.MustCompile(`pipbake: api: installed (\d+) distributions \((\d+) files, [0-9.]+ MB\) in [0-9.]+s \([0-9.]+ [kM]B/s\)`)
	m := summary.FindStringSubmatch(got)
	if m == nil || m[1] != strconv.Itoa(len(wheels)) {
		t.Fatalf("no closing line with count, bytes and rate:\n%s", got)
	}
	// While it runs, a line with the files and bytes written of all
	// (the first line comes at once here: progressDelay is 0).
	if !regexp.MustCompile(`\npipbake: api: install: \d+/\d+ files, [0-9.]+ [kM]?B of [0-9.]+ MB, [0-9.]+ [kM]?B/s, \d+s, \d+ distributions\n`).MatchString(got) {
		t.Errorf("no progress line while installing:\n%s", got)
	}
	if strings.Contains(got, "install: done") {
		t.Errorf("two closing lines:\n%s", got)
	}
}
