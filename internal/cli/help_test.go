package cli

import (
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/release"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv"
)

// TestEveryCommandHelp: every command's -h (and `pipbake help COMMAND`)
// says in one line what it does, then its forms and an example, on
// standard output, and exits 0.
func TestEveryCommandHelp(t *testing.T) {
	t.Parallel()
	for _, name := range commandNames() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			help, stderr, code := captured(t, name, "-h")
			lines := strings.Split(help, "\n")
			if code != 0 || stderr != "" || !strings.HasPrefix(lines[0], "pipbake "+name+": ") ||
				!strings.Contains(help, "\nUsage:\n  pipbake "+name) || !strings.Contains(help, "\nExample:\n  ") {
				t.Errorf("%s -h: exit %d, stderr %q:\n%s", name, code, stderr, help)
			}
			if len(lines[0]) > 140 {
				t.Errorf("%s -h: the first line should be one short line, not %d characters", name, len(lines[0]))
			}
			again, _, code := captured(t, "help", name)
			if code != 0 || again != help {
				t.Errorf("help %s: exit %d, not the same as -h:\n%s", name, code, again)
			}
		})
	}
}

// TestUsageListsEveryCommand: pipbake alone lists every command with its
// line (on stderr, exit 2); help lists them on stdout.
func TestUsageListsEveryCommand(t *testing.T) {
	t.Parallel()
	_, stderr, code := captured(t)
	stdout, _, hcode := captured(t, "help")
	if code != 2 || hcode != 0 || stdout != stderr {
		t.Fatalf("no command: exit %d; help: exit %d", code, hcode)
	}
	for _, c := range commands() {
		listed := strings.Contains(stdout, "  "+c.help.name+" ") || strings.Contains(stdout, c.help.does)
		if listed == c.hidden {
			t.Errorf("usage lists %s: %v, hidden %v:\n%s", c.help.name, listed, c.hidden, stdout)
		}
	}
}

// TestUnknownCommandSuggests: an unknown command says so, suggests the
// nearest one when there is one, and exits 2.
func TestUnknownCommandSuggests(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ arg, want string }{
		{"instal", `unknown command "instal"; did you mean "install"?`},
		{"promte", `unknown command "promte"; did you mean "promote"?`},
		{"relases", `unknown command "relases"; did you mean "releases"?`},
		{"verfiy", `unknown command "verfiy"; did you mean "verify"?`},
		{"insp", `unknown command "insp"; did you mean "inspect"?`},
		{"xyzzy", `unknown command "xyzzy"` + "\n"},
	} {
		if near, _, _ := strings.Cut(strings.TrimPrefix(c.want, `unknown command "`+c.arg+`"; did you mean "`), `"`); near != c.want && lookup(near) == nil {
			continue // the lean agent build has no such command
		}
		stdout, stderr, code := captured(t, c.arg, "--root", "x")
		if code != 2 || stdout != "" || !strings.HasPrefix(stderr, "pipbake: "+c.want) || strings.Count(stderr, "unknown command") != 1 {
			t.Errorf("%s: exit %d, stdout %q, stderr:\n%s", c.arg, code, stdout, stderr)
		}
	}
	if _, stderr, code := captured(t, "help", "instal"); code != 2 || !strings.Contains(stderr, `did you mean "install"?`) {
		t.Errorf("help instal: exit %d %s", code, stderr)
	}
}

// TestBadFlagOneErrorAndShortUsage: a bad flag prints one error line and
// the command's short usage (its forms), not the whole help, and exits 2.
func TestBadFlagOneErrorAndShortUsage(t *testing.T) {
	t.Parallel()
	for _, name := range commandNames() {
		args := []string{name, "--no-such-flag"}
		if name == "rollback" && len(variants("rollback")) > 0 {
			args = []string{name, "--asg", "web", "--no-such-flag"}
		}
		stdout, stderr, code := captured(t, args...)
		if code != 2 || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q", args, code, stdout)
		}
		if strings.Count(stderr, "no-such-flag") != 1 || strings.Count(stderr, "Usage:") != 1 ||
			!strings.HasPrefix(stderr, "pipbake: "+name+": flag provided but not defined: -no-such-flag\nUsage:\n  pipbake "+name) ||
			strings.Contains(stderr, "Example:") || strings.Contains(stderr, "  -") && strings.Contains(stderr, "\n    \t") {
			t.Errorf("%v: want one error and the short usage, got:\n%s", args, stderr)
		}
		if !strings.HasSuffix(stderr, "Run \"pipbake "+name+" -h\" for the flags and an example.\n") {
			t.Errorf("%v: the short usage should end saying where the rest is:\n%s", args, stderr)
		}
	}
	// A usage error found after parsing is followed by the short usage too.
	_, stderr, code := captured(t, "verify")
	if code != 2 || !strings.HasPrefix(stderr, "pipbake: verify: --root is required\nUsage:\n  pipbake verify --root DIR") {
		t.Errorf("verify without --root: exit %d:\n%s", code, stderr)
	}
	// An operational error is not.
	_, stderr, code = captured(t, "verify", "--root", filepath.Join(t.TempDir(), "none"))
	if code != 2 || strings.Contains(stderr, "Usage:") {
		t.Errorf("verify of nothing: exit %d:\n%s", code, stderr)
	}
}

// TestJSONWhereverAResultIsPrinted: every command that prints a listing or
// a result takes --json.
func TestJSONWhereverAResultIsPrinted(t *testing.T) {
	t.Parallel()
	noResult := []string{"help", "completion", "demo"} // help text, a script, an app's own output
	for _, c := range completionData(t.Context()) {
		if slices.Contains(noResult, c.name) {
			continue
		}
		if !slices.ContainsFunc(c.flags, func(f completionFlag) bool { return f.name == "json" && f.isBool }) {
			t.Errorf("%s has no --json", c.name)
		}
	}
}

// TestLocalRollbackJSON: rollback --root --json prints the switch.
func TestLocalRollbackJSON(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, id := range []string{"1", "2"} {
		dir := filepath.Join(root, "releases", id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, release.ReceiptName), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("releases/2", filepath.Join(root, "current")); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := captured(t, "rollback", "--root", root, "--json")
	var got rolledBack
	if err := json.Unmarshal([]byte(stdout), &got); code != 0 || err != nil || got != (rolledBack{Root: root, From: "2", To: "1"}) {
		t.Fatalf("rollback --json: exit %d, %v: %s %s", code, err, stdout, stderr)
	}
	if target, _ := os.Readlink(filepath.Join(root, "current")); target != "releases/1" {
		t.Errorf("current -> %s", target)
	}
	stdout, _, code = captured(t, "version", "--json")
	var v map[string]string
	if err := json.Unmarshal([]byte(stdout), &v); code != 0 || err != nil || v["version"] == "" || v["go"] == "" {
		t.Errorf("version --json: exit %d, %v: %s", code, err, stdout)
	}
}

// needShell returns the path of a shell the completion tests need; missing,
// it skips (or fails under PIPBAKE_E2E_REQUIRED: .ci/deps.sh installs it).
func needShell(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		testenv.Missing(t, "%s is not installed (apt-get install %s)", name, name)
	}
	return p
}

func completionScript(t *testing.T, sh string) string {
	t.Helper()
	stdout, stderr, code := captured(t, "completion", sh)
	if code != 0 || stderr != "" {
		t.Fatalf("completion %s: exit %d: %s", sh, code, stderr)
	}
	p := filepath.Join(t.TempDir(), "pipbake."+sh)
	if err := os.WriteFile(p, []byte(stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runShell(t *testing.T, sh string, args ...string) string {
	t.Helper()
	cmd := exec.Command(sh, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir(), "XDG_DATA_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", sh, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestCompletionBash loads the bash script into bash and asks it what it
// completes.
func TestCompletionBash(t *testing.T) {
	t.Parallel()
	bash := needShell(t, "bash")
	script := completionScript(t, "bash")
	complete := func(line string) []string {
		words := strings.Fields(line)
		if strings.HasSuffix(line, " ") {
			words = append(words, "")
		}
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+w+"'")
		}
		out := runShell(t, bash, "-c", `source "$1"; COMP_WORDS=(`+strings.Join(quoted, " ")+`); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _pipbake; printf '%s\n' "${COMPREPLY[@]}"`, "bash", script)
		return strings.Fields(out)
	}
	cases := map[string][]string{
		"pipbake rollback --ro":      {"--root"},
		"pipbake install -":          {"--lock", "--wheelhouse", "--root", "-f", "--json"},
		"pipbake help ver":           {"verify", "version"},
		"pipbake completion ":        {"bash", "zsh", "fish"},
		"pipbake releases --root /x": nil,
	}
	full := lookup("inspect") != nil // not the lean agent build
	if full {
		maps.Copy(cases, map[string][]string{
			"pipbake ins":           {"install", "inspect"},
			"pipbake rollback --as": {"--asg", "--asg-tag"},
			"pipbake rollback --ho": {"--host", "--hosts-file"},
			"pipbake releases --ho": {"--host", "--hosts-file"},
			"pipbake verify --im":   {"--image"},
			"pipbake cache ":        {"prune", "size"},
			"pipbake push --ro":     {"--rolling"},
		})
	}
	for line, want := range cases {
		got := complete(line)
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("%q completes to %v, lacking %q", line, got, w)
			}
		}
		if want == nil && len(got) != 0 {
			t.Errorf("%q completes to %v, want nothing (bash's default: files)", line, got)
		}
	}
	if got := complete("pipbake ins"); full && len(got) != 2 {
		t.Errorf("ins: %v", got)
	}
	if got := complete("pipbake act"); len(got) != 0 {
		t.Errorf("the hidden activate is offered: %v", got)
	}
}

// TestCompletionFish loads the fish script into fish and asks it what it
// completes.
func TestCompletionFish(t *testing.T) {
	t.Parallel()
	fish := needShell(t, "fish")
	script := completionScript(t, "fish")
	complete := func(line string) string {
		return runShell(t, fish, "--no-config", "-c", "source $argv[1]; complete -C $argv[2]", script, line)
	}
	cases := map[string][]string{
		"pipbake install -":   {"--wheelhouse\t", "-f\t", "--json\t"},
		"pipbake completion ": {"bash", "zsh", "fish"},
	}
	if lookup("inspect") != nil { // not the lean agent build
		maps.Copy(cases, map[string][]string{
			"pipbake ins":           {"install\tinstall locked sets", "inspect\tsay what a baked image"},
			"pipbake rollback --as": {"--asg\tan autoscaling group's name", "--asg-tag\t"},
		})
	}
	for line, wants := range cases {
		got := complete(line)
		for _, w := range wants {
			if !strings.Contains(got, w) {
				t.Errorf("%q completes to:\n%s\nlacking %q", line, got, w)
			}
		}
	}
}

// TestCompletionZsh checks the zsh script's syntax and that, loaded after
// compinit, it is the completion of pipbake.
func TestCompletionZsh(t *testing.T) {
	t.Parallel()
	zsh := needShell(t, "zsh")
	script := completionScript(t, "zsh")
	runShell(t, zsh, "-n", script)
	out := runShell(t, zsh, "-f", "-c", `autoload -U compinit && compinit -u -D && source "$1" && print -r -- "$_comps[pipbake]" && functions _pipbake | grep -c -- "--wheelhouse"`, "zsh", script)
	if fields := strings.Fields(out); len(fields) != 2 || fields[0] != "_pipbake" || fields[1] == "0" {
		t.Errorf("zsh: %q", out)
	}
}

// TestNearest: the suggestion for a mistyped command.
func TestNearest(t *testing.T) {
	t.Parallel()
	names := []string{"install", "inspect", "verify", "version", "rollback"}
	for in, want := range map[string]string{"instal": "install", "isntall": "install", "verison": "version", "rolback": "rollback", "ro": "rollback", "qqqq": "", "": ""} {
		if got := nearest(in, names); got != want {
			t.Errorf("nearest(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestVariantsInHelp: a command's help shows the forms and flags of its
// variants (over SSH, on the catalog, from outside an image), each variant
// runs when its flags are given, and the hidden activate has help too.
func TestVariantsInHelp(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		wants []string
	}{
		{"rollback", []string{"pipbake rollback --root DIR", "--host HOST", "--asg NAME", "Flags with --host or --hosts-file:", "Flags with --asg, --asg-tag or --repo:"}},
		{"releases", []string{"pipbake releases --root DIR", "--host HOST", "Flags with --host or --hosts-file:"}},
		{"verify", []string{"pipbake verify --root DIR", "--image REF --key PUB", "Flags with --image or --ami:", "  -attestations folder"}},
	} {
		if len(variants(c.name)) == 0 {
			continue // the lean agent build
		}
		help, _, code := captured(t, c.name, "-h")
		for _, w := range c.wants {
			if code != 0 || !strings.Contains(help, w) {
				t.Errorf("%s -h lacks %q (exit %d):\n%s", c.name, w, code, help)
			}
		}
	}
	if len(variants("verify")) > 0 {
		// each variant parses its own flags
		if _, stderr, code := captured(t, "verify", "--image", "r/x"); code != 2 || !strings.HasPrefix(stderr, "pipbake: verify: --key is required with --image") {
			t.Errorf("verify --image without --key: exit %d %s", code, stderr)
		}
		if _, stderr, code := captured(t, "releases", "--host", "h", "--image", "x"); code != 2 || !strings.Contains(stderr, "flag provided but not defined: -image") {
			t.Errorf("releases --host --image: exit %d %s", code, stderr)
		}
	}
	help, _, code := captured(t, "activate", "-h")
	if code != 0 || !strings.HasPrefix(help, "pipbake activate: ") || !strings.Contains(help, "--previous SET=ID") {
		t.Errorf("activate -h: exit %d:\n%s", code, help)
	}
}
