//go:build !pipbake_agent

package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/resolve"
	"github.com/pipbake/packer-plugin-pipbake/internal/shell"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
)

var lockHelp = commandHelp{
	name: "lock",
	does: "pin the wheels of a folder, with every wheel's sha256, as a hashed lock",
	forms: []string{
		"--wheelhouse DIR [-o FILE]                          every project in DIR",
		"--wheelhouse DIR --requirements FILE [-o FILE]      those named, and what they need",
		"    [--format requirements|pylock] [--constraints FILE] [--target-python PATH | --python-version V --platform TAG ...] [--json]",
	},
	example: "pip wheel -r requirements.txt -w wheels && pipbake lock --wheelhouse wheels -o requirements.lock",
	more: `Writes hashed requirements (pip-compile's format) or, with --format pylock
or an -o named pylock.toml, a PEP 751 pylock.toml; pipbake install, pipbake
fetch and pip install --require-hashes accept either. A project with one
version in DIR is that version; several must be narrowed to one by the
requirements. Requires-Dist extras and markers are evaluated: what depends
on the target stays in the pins' markers (a project needed only elsewhere
and absent from DIR is left out with a note), unless a target is given.
Wheels for several platforms add platform markers where a project lacks
some of them. The output is sorted and has no timestamps. --json prints,
on standard output, what was pinned (with -o FILE).`,
}

// lockSummary is what `lock --json` prints.
type lockSummary struct {
	Output   string   `json:"output"`
	Format   string   `json:"format"`
	Packages int      `json:"packages"`
	Wheels   int      `json:"wheels"`
	Notes    []string `json:"notes"`
}

func cmdLock(ctx context.Context, s stdio, args []string) error {
	fs := lockHelp.flags(s)
	var reqFiles, conFiles, platforms listFlag
	dir := fs.String("wheelhouse", "", "the `folder` of wheels to pin (e.g. made by pip wheel -w)")
	fs.Var(&reqFiles, "requirements", "requirements `file` naming the projects to pin (default: every project in the folder); repeat for several")
	fs.Var(&reqFiles, "r", "short for --requirements")
	fs.Var(&conFiles, "constraints", "constraints `file`: versions to keep to, without asking for the projects; repeat for several")
	format := fs.String("format", "", "`format` to write: requirements or pylock (default: pylock for -o pylock*.toml, else requirements)")
	output := fs.String("o", "-", "lock `file` to write (- for standard output)")
	targetPython := fs.String("target-python", "", "decide markers for this local `interpreter` (default: keep them in the lock)")
	pyVersion := fs.String("python-version", "", "decide markers for this Python `version`, e.g. 3.11 (with --platform)")
	fs.Var(&platforms, "platform", "with --python-version: the target's platform `tag`, e.g. manylinux_2_36_x86_64")
	impl := fs.String("implementation", "cp", "with --python-version: the target's Python `implementation`")
	abi := fs.String("abi", "", "with --python-version: the target's ABI `tag` (default: from the version)")
	quiet := fs.Bool("quiet", false, "print only errors")
	asJSON := fs.Bool("json", false, "print what was pinned as JSON (with -o FILE)")
	if err := fs.parse(args); err != nil {
		return err
	}
	usage := func(format string, args ...any) error { return usageErr("lock: "+format, args...) }
	switch {
	case *asJSON && *output == "-":
		return usage("--json prints a summary on standard output: give -o FILE for the lock")
	case *dir == "":
		return usage("give --wheelhouse DIR (make one with: pip wheel -r requirements.txt -w DIR)")
	case *targetPython != "" && (*pyVersion != "" || len(platforms) > 0):
		return usage("give either --target-python or --python-version/--platform, not both")
	case *pyVersion != "" && len(platforms) == 0, *pyVersion == "" && len(platforms) > 0:
		return usage("--python-version and --platform go together")
	}
	f := resolve.Format(*format)
	switch f {
	case "":
		f = resolve.FormatFor(*output)
	case resolve.Requirements, resolve.PyLock:
	default:
		return usage("--format %q: want requirements or pylock", *format)
	}
	if st, err := os.Stat(*dir); err != nil || !st.IsDir() {
		if err == nil {
			err = fmt.Errorf("not a folder")
		}
		return usage("--wheelhouse %s: %v", *dir, err)
	}

	opts, notes, err := lockInputs(reqFiles, conFiles)
	if err != nil {
		return err
	}
	opts.Dir = *dir
	switch {
	case *targetPython != "":
		tg, err := target.Probe(ctx, *targetPython)
		if err != nil {
			return err
		}
		opts.Env = tg.Markers
	case *pyVersion != "":
		d := target.Description{PythonVersion: *pyVersion, Platforms: platforms, Implementation: *impl, ABI: *abi}
		if opts.Env, err = d.Markers(); err != nil {
			return usage("%v", err)
		}
	}

	res, err := resolve.Resolve(opts)
	if err != nil {
		return err
	}
	notes = append(notes, res.Notes...)
	buf, more, err := renderLock(res, f, *dir, *output, lockCommandLine(args))
	if err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	notes = append(notes, more...)
	if *output == "-" {
		if _, err := s.stdout.Write(buf); err != nil {
			return err
		}
	} else if err := writeLockFile(*output, buf); err != nil {
		return fmt.Errorf("lock: write %s: %w", *output, err)
	}
	wheels := 0
	for _, p := range res.Packages {
		wheels += len(p.Wheels)
	}
	if *asJSON {
		return printJSON(s.stdout, lockSummary{Output: *output, Format: string(f), Packages: len(res.Packages), Wheels: wheels, Notes: append([]string{}, notes...)})
	}
	if !*quiet {
		for _, n := range notes {
			fmt.Fprintf(s.stderr, "pipbake lock: note: %s\n", n)
		}
		where := *output
		if where == "-" {
			where = "standard output"
		}
		fmt.Fprintf(s.stderr, "pipbake lock: pinned %d packages (%d wheels) from %s as %s to %s\n", len(res.Packages), wheels, *dir, f, where)
	}
	return nil
}

// lockInputs reads the requirements files (the projects to pin, and the
// constraints they carry) and the constraints files.
func lockInputs(reqFiles, conFiles []string) (opts resolve.Options, notes []string, err error) {
	for _, p := range reqFiles {
		rf, err := resolve.ReadRequirementsFile(p)
		if err != nil {
			return opts, nil, err
		}
		if len(rf.Requirements) == 0 {
			return opts, nil, fmt.Errorf("lock: requirements file %s names no project", p)
		}
		opts.Requirements = append(opts.Requirements, rf.Requirements...)
		opts.Constraints = append(opts.Constraints, rf.Constraints...)
		notes = append(notes, rf.Notes...)
	}
	for _, p := range conFiles {
		rf, err := resolve.ReadRequirementsFile(p)
		if err != nil {
			return opts, nil, err
		}
		opts.Constraints = append(opts.Constraints, rf.Requirements...)
		opts.Constraints = append(opts.Constraints, rf.Constraints...)
		notes = append(notes, rf.Notes...)
	}
	return opts, notes, nil
}

// renderLock writes the lock in format f, with a header saying how it
// was made from the wheels in dir (cmdline: lock's arguments) and how to
// install it; output is where it goes ("-": standard output), for the
// pylock's relative paths and a note on its name.
func renderLock(res *resolve.Result, f resolve.Format, dir, output, cmdline string) (_ []byte, notes []string, err error) {
	header := []string{
		"This lock was made by pipbake lock from the wheels in " + dir + ":",
		"   pipbake lock " + cmdline,
	}
	var buf bytes.Buffer
	if f == resolve.PyLock {
		lockDir := "."
		if output != "-" {
			lockDir = filepath.Dir(output)
			if resolve.FormatFor(output) != resolve.PyLock {
				notes = append(notes, fmt.Sprintf("%s is not named pylock.toml or pylock.NAME.toml as PEP 751 asks; pipbake reads it by its content", output))
			}
		}
		err = resolve.WritePyLock(&buf, res, lockDir, header)
	} else {
		header = append(header, "Install it with pipbake install --lock FILE --wheelhouse "+dir+",",
			"or pip install --require-hashes --no-index --find-links "+dir+" -r FILE.")
		err = resolve.WriteRequirements(&buf, res, header)
	}
	return buf.Bytes(), notes, err
}

// lockCommandLine renders arguments as a command line a shell reads back.
func lockCommandLine(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@") == "" {
			q[i] = a
		} else {
			q[i] = shell.Quote(a)
		}
	}
	return strings.Join(q, " ")
}

// writeLockFile writes data to path through a temporary file in the
// same folder, renamed into place.
func writeLockFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, bytes.NewReader(data)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
