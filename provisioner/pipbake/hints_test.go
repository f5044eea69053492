package pipbake

import (
	"errors"
	"strings"
	"testing"
)

// TestHints: sudo's own messages when it wants a password, and a
// permission denied while the agent runs without sudo, get the fix with
// the error; a permission denied under sudo, or nothing seen, none.
func TestHints(t *testing.T) {
	base := errors.New("pipbake: run the agent: exit status 1")
	for _, c := range []struct {
		lines []string
		cmd   string
		want  string
	}{
		{[]string{"sudo: a password is required"}, SudoExecuteCommand, "needs passwordless sudo"},
		{[]string{"sudo: a terminal is required to read the password; either use the -S option to read from standard input or configure an askpass helper"}, SudoExecuteCommand, "needs passwordless sudo"},
		{[]string{"sudo: no tty present and no askpass program specified"}, SudoExecuteCommand, "needs passwordless sudo"},
		{[]string{`pipbake: set "api": create /opt/api: mkdir /opt/api: permission denied`}, DefaultExecuteCommand, `execute_command = "chmod +x {{.Agent}} && sudo -E {{.Agent}} {{.Args}}"`},
		{[]string{`mkdir /opt/api: permission denied`}, SudoExecuteCommand, ""},
		{[]string{"pipbake: api: installed 7 distributions"}, DefaultExecuteCommand, ""},
	} {
		h := &hints{}
		for _, l := range c.lines {
			h.see(l)
		}
		err := h.explain(base, c.cmd)
		if !errors.Is(err, base) {
			t.Errorf("%q: the cause is lost: %v", c.lines, err)
		}
		switch got := err.Error(); {
		case c.want == "" && got != base.Error():
			t.Errorf("%q: a hint where none fits: %s", c.lines, got)
		case c.want != "" && (!strings.Contains(got, "\nhint: ") || !strings.Contains(got, c.want)):
			t.Errorf("%q: %s", c.lines, got)
		}
	}
}
