// Package citools is TEST-ONLY: the tools .ci/tools.sh builds from the Go
// module proxy into the developer cache (cosign, oras, ...), for the tests
// that ask for one beyond the default list. A tool comes from its variable
// (PIPBAKE_COSIGN, ...) when set, else from `PIPBAKE_TOOLS=<tool>
// .ci/tools.sh`, which builds it the first time (minutes) and then
// answers from its cache. Without it the test is skipped, or fails when
// PIPBAKE_E2E_REQUIRED is set; under -short it is skipped.
package citools

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/testenv"
)

type found struct {
	once    sync.Once
	bin     string
	whyNone string
}

var (
	mu    sync.Mutex
	tools = map[string]*found{}
)

// Bin returns the program of tool (a name .ci/tools.sh knows), from
// variable when it is set, else built or found by .ci/tools.sh within
// timeout.
func Bin(tb testing.TB, tool, variable string, timeout time.Duration) string {
	tb.Helper()
	testenv.SkipShort(tb, "runs "+tool)
	mu.Lock()
	f := tools[tool]
	if f == nil {
		f = &found{}
		tools[tool] = f
	}
	mu.Unlock()
	f.once.Do(func() { f.bin, f.whyNone = find(tool, variable, timeout) })
	if f.bin == "" {
		testenv.Missing(tb, "%s: %s", tool, f.whyNone)
	}
	if st, err := os.Stat(f.bin); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		testenv.Missing(tb, "%s: no program at %s", tool, f.bin)
	}
	return f.bin
}

func find(tool, variable string, timeout time.Duration) (bin, whyNone string) {
	if p := os.Getenv(variable); p != "" {
		return p, ""
	}
	script := toolsScript()
	if script == "" {
		return "", "no .ci/tools.sh above " + wd()
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Env = append(os.Environ(), "PIPBAKE_TOOLS="+tool)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", "PIPBAKE_TOOLS=" + tool + " .ci/tools.sh failed: " + err.Error() + "\n" + errb.String()
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(l, variable+"="); ok {
			bin = strings.Trim(v, "'")
		}
	}
	if bin == "" {
		return "", ".ci/tools.sh printed no " + variable
	}
	return bin, ""
}

func wd() string { d, _ := os.Getwd(); return d }

// toolsScript is .ci/tools.sh in the working folder or above it.
func toolsScript() string {
	d := wd()
	for {
		p := filepath.Join(d, ".ci", "tools.sh")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}
