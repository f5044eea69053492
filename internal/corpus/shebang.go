package corpus

import (
	"bytes"
	"path"
	"strings"
)

// restoreShebang undoes an installer's shebang rewrite: a script whose
// first line runs a Python interpreter gets "#!python" back (keeping any
// interpreter arguments), which is how wheels carry scripts. The
// /bin/sh trampoline (a "#!/bin/sh" line followed by an exec line quoted
// as a Python string) that installers write for long interpreter paths is
// recognised too. Other scripts are returned unchanged.
func restoreShebang(data []byte) []byte {
	first, rest, _ := bytes.Cut(data, []byte("\n"))
	line := strings.TrimRight(string(first), "\r")
	if !strings.HasPrefix(line, "#!") {
		return data
	}
	if line == "#!/bin/sh" {
		exec, after, _ := bytes.Cut(rest, []byte("\n"))
		closing, body, _ := bytes.Cut(after, []byte("\n"))
		if bytes.HasPrefix(exec, []byte("'''exec' ")) && strings.Contains(string(exec), "python") && strings.TrimSpace(string(closing)) == "' '''" {
			return append([]byte("#!python\n"), body...)
		}
		return data
	}
	fields := strings.Fields(line[2:])
	if len(fields) == 0 {
		return data
	}
	interp, args := fields[0], fields[1:]
	if path.Base(interp) == "env" && len(args) > 0 {
		interp, args = args[0], args[1:]
	}
	if !strings.HasPrefix(path.Base(interp), "python") {
		return data
	}
	out := "#!python"
	if len(args) > 0 {
		out += " " + strings.Join(args, " ")
	}
	return append([]byte(out+"\n"), rest...)
}
