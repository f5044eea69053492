// Package plan reads pipbake.hcl: the release, the wheelhouse and the
// package sets to install. The same schema is accepted as HCL's JSON syntax
// (the form the Packer provisioner uploads to the machine being baked).
//
//	release    = "2026.11.26"        # optional
//	wheelhouse = "wheels"            # relative to this file
//	set {
//	  name      = "api"
//	  lock      = "locks/api.txt"
//	  root      = "/opt/api"
//	  python    = "/usr/bin/python3" # optional
//	  keep      = 5                  # optional
//	  compile   = true               # optional
//	  installer = "native"           # optional: native or pip
//	  health {                        # optional: checked by pipbake push
//	    command = "curl -fsS http://127.0.0.1:8080/health"
//	    timeout = "30s"
//	  }
//	}
package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// Plan is a pipbake.hcl file.
type Plan struct {
	Release    string `hcl:"release,optional" json:"release,omitempty"`
	Wheelhouse string `hcl:"wheelhouse,optional" json:"wheelhouse,omitempty"`
	Sets       []Set  `hcl:"set,block" json:"set"`
}

//go:generate go tool packer-sdc mapstructure-to-hcl2 -type Set,Service,Health
//go:generate go tool packer-sdc struct-markdown

// Set is one `set` block: a pinned package set installed into its own
// release root.
type Set struct {
	// The set's name, used in receipts, image tags and the systemd unit
	// name. Unique within a plan.
	Name string `hcl:"name" json:"name" mapstructure:"name" required:"true"`
	// The lock file: pip-compile / uv output with `--hash` for every
	// requirement, or a PEP 751 pylock.toml.
	Lock string `hcl:"lock" json:"lock" mapstructure:"lock" required:"true"`
	// The release root on the target: releases go to `<root>/releases/<id>`
	// and `<root>/current` points at the active one.
	Root string `hcl:"root" json:"root" mapstructure:"root" required:"true"`
	// The target interpreter the environment is built on. Defaults to
	// `python3`.
	Python string `hcl:"python,optional" json:"python,omitempty" mapstructure:"python"`
	// How many releases to keep in the root. Defaults to 5; the current
	// release is never removed.
	Keep *int `hcl:"keep,optional" json:"keep,omitempty" mapstructure:"keep"`
	// Whether to write bytecode (.pyc) at install time. Defaults to true.
	Compile *bool `hcl:"compile,optional" json:"compile,omitempty" mapstructure:"compile"`
	// `native` (default: pipbake installs the wheels itself) or `pip`
	// (the target's own pip, `--no-index --no-deps --require-hashes`).
	Installer string `hcl:"installer,optional" json:"installer,omitempty" mapstructure:"installer"`
	// Run the set as a systemd service enabled for the next boot.
	Service *Service `hcl:"service,block" json:"service,omitempty" mapstructure:"service"`
	// Verify the release at every boot before the set's service starts:
	// installs the pipbake agent in the image and a
	// `pipbake-verify@<set>.service` unit, required by the set's service,
	// that checks the release against the receipt's sha256 baked into it;
	// drift keeps the service from starting and is logged.
	VerifyOnBoot bool `hcl:"verify_on_boot,optional" json:"verify_on_boot,omitempty" mapstructure:"verify_on_boot"`
	// A check `pipbake push` runs on each machine after the set's
	// service restarts; a failure rolls that machine back to its previous
	// release. Not used when baking an image (nothing runs there).
	Health *Health `hcl:"health,block" json:"health,omitempty" mapstructure:"health"`
}

// Health is a set's `health` block.
type Health struct {
	// A shell command run on the machine (`sh -c`, in `<root>/current`)
	// until it exits 0, e.g. `curl -fsS http://127.0.0.1:8080/health`.
	Command string `hcl:"command" json:"command" mapstructure:"command" required:"true"`
	// How long the check may take to pass, tries included: a duration
	// such as `30s` or `2m`. Defaults to 30s; at most 1h.
	Timeout string `hcl:"timeout,optional" json:"timeout,omitempty" mapstructure:"timeout"`
	// The pause between tries. Defaults to 1s; at least 100ms.
	Interval string `hcl:"interval,optional" json:"interval,omitempty" mapstructure:"interval"`
}

// Health check defaults and bounds.
const (
	DefaultHealthTimeout  = 30 * time.Second
	DefaultHealthInterval = time.Second
	MaxHealthTimeout      = time.Hour
	MinHealthInterval     = 100 * time.Millisecond
)

// TimeoutOrDefault is Timeout as a duration (DefaultHealthTimeout when
// unset or invalid; Check reports invalid values).
func (h *Health) TimeoutOrDefault() time.Duration {
	if d, err := time.ParseDuration(h.Timeout); err == nil && d > 0 && d <= MaxHealthTimeout {
		return d
	}
	return DefaultHealthTimeout
}

// IntervalOrDefault is Interval as a duration (DefaultHealthInterval when
// unset or invalid).
func (h *Health) IntervalOrDefault() time.Duration {
	if d, err := time.ParseDuration(h.Interval); err == nil && d >= MinHealthInterval && d <= MaxHealthTimeout {
		return d
	}
	return DefaultHealthInterval
}

// Check returns every problem with the health block.
func (h *Health) Check() []string {
	var out []string
	if strings.TrimSpace(h.Command) == "" {
		out = append(out, "command must not be empty")
	}
	if strings.ContainsRune(h.Command, 0) {
		out = append(out, "command must not hold a NUL byte")
	}
	if h.Timeout != "" {
		if d, err := time.ParseDuration(h.Timeout); err != nil || d <= 0 || d > MaxHealthTimeout {
			out = append(out, fmt.Sprintf("timeout %s is not a duration between 0 and %s (e.g. \"30s\")", quoteShort(h.Timeout), MaxHealthTimeout))
		}
	}
	if h.Interval != "" {
		if d, err := time.ParseDuration(h.Interval); err != nil || d < MinHealthInterval || d > MaxHealthTimeout {
			out = append(out, fmt.Sprintf("interval %s is not a duration between %s and %s (e.g. \"1s\")", quoteShort(h.Interval), MinHealthInterval, MaxHealthTimeout))
		}
	}
	return out
}

// quoteShort quotes a value for a message, cut to about 120 bytes.
func quoteShort(s string) string {
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// Service is a set's `service` block.
type Service struct {
	// The service's command line. A first word without a slash names a
	// program in the set's `<root>/current/bin`.
	Command string `hcl:"command" json:"command" mapstructure:"command" required:"true"`
	// The user the service runs as; created as a system user if missing.
	User string `hcl:"user,optional" json:"user,omitempty" mapstructure:"user"`
	// The group the service runs as; created if missing.
	Group string `hcl:"group,optional" json:"group,omitempty" mapstructure:"group"`
	// Environment variables for the service.
	Environment map[string]string `hcl:"environment,optional" json:"environment,omitempty" mapstructure:"environment"`
	// A file of environment variables (systemd `EnvironmentFile=`), read at
	// service start: keep secrets there, not in the image.
	EnvironmentFile string `hcl:"environment_file,optional" json:"environment_file,omitempty" mapstructure:"environment_file"`
	// The working directory. Defaults to `<root>/current`.
	WorkingDirectory string `hcl:"working_directory,optional" json:"working_directory,omitempty" mapstructure:"working_directory"`
	// Units to start after (systemd `After=`), besides network-online.target.
	After []string `hcl:"after,optional" json:"after,omitempty" mapstructure:"after"`
	// systemd's `Restart=`. Defaults to `on-failure`.
	Restart string `hcl:"restart,optional" json:"restart,omitempty" mapstructure:"restart"`
}

// CompileOrDefault is Compile, true when unset.
func (s Set) CompileOrDefault() bool { return s.Compile == nil || *s.Compile }

// KeepOrDefault is Keep, 0 (the installer's default) when unset.
func (s Set) KeepOrDefault() int {
	if s.Keep == nil {
		return 0
	}
	return *s.Keep
}

// Load reads a plan from an .hcl file, or from a .json file in HCL's JSON
// syntax. Relative paths in it are resolved against the file's folder.
// Every problem is reported, each with file and line.
func Load(path string) (*Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, MaxPlanBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read plan %s: %w", path, err)
	}
	return Parse(path, src)
}

// Parse is Load on bytes; path names the file in messages and anchors
// relative paths.
//
// A plan beyond MaxPlanBytes, MaxNesting or MaxChain is refused before
// HCL parses it.
func Parse(path string, src []byte) (*Plan, error) {
	if err := checkLimits(path, src, strings.HasSuffix(path, ".json")); err != nil {
		return nil, err
	}
	p := hclparse.NewParser()
	var f *hcl.File
	var diags hcl.Diagnostics
	if strings.HasSuffix(path, ".json") {
		f, diags = p.ParseJSON(src, path)
	} else {
		f, diags = p.ParseHCL(src, path)
	}
	if diags.HasErrors() {
		return nil, diagError(diags)
	}
	var pl Plan
	if diags := gohcl.DecodeBody(f.Body, nil, &pl); diags.HasErrors() {
		return nil, diagError(diags)
	}
	if err := pl.check(path, f); err != nil {
		return nil, err
	}
	base := filepath.Dir(path)
	if b, err := filepath.Abs(base); err == nil {
		base = b
	}
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	pl.Wheelhouse = abs(pl.Wheelhouse)
	for i := range pl.Sets {
		pl.Sets[i].Lock = abs(pl.Sets[i].Lock)
	}
	return &pl, nil
}

// check validates values, reporting every problem with the line of the
// set block it is in.
func (pl *Plan) check(path string, f *hcl.File) error {
	lines := setLines(f)
	at := func(i int) string {
		if i >= 0 && i < len(lines) {
			return fmt.Sprintf("%s:%d", path, lines[i])
		}
		return path
	}
	var problems []string
	if len(pl.Sets) == 0 {
		problems = append(problems, path+": no set blocks: nothing to install")
	}
	for _, p := range CheckSets(pl.Sets) {
		msg := p.Msg
		if p.Other >= 0 {
			msg += " (first at " + at(p.Other) + ")"
		}
		problems = append(problems, at(p.Set)+": "+msg)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return nil
}

// Problem is one invalid value in a list of sets.
type Problem struct {
	// Set is the index of the set it is in (-1: several sets).
	Set int
	// Other is the index of a set it conflicts with (-1: none).
	Other int
	Msg   string
}

// CheckSets validates sets, wherever they came from (a pipbake.hcl file or
// the Packer provisioner's configuration), and returns every problem.
func CheckSets(sets []Set) []Problem {
	var out []Problem
	add := func(i, other int, format string, args ...any) {
		out = append(out, Problem{Set: i, Other: other, Msg: fmt.Sprintf(format, args...)})
	}
	names := map[string]int{}
	roots := map[string]int{}
	for i, s := range sets {
		switch j, dup := names[s.Name]; {
		case s.Name == "":
			add(i, -1, "set name must not be empty")
		case dup:
			add(i, j, "set %q is defined twice", s.Name)
		default:
			names[s.Name] = i
		}
		if s.Lock == "" {
			add(i, -1, "set %q: lock must be given", s.Name)
		}
		if s.Root == "" || !filepath.IsAbs(s.Root) {
			add(i, -1, "set %q: root %q must be an absolute path", s.Name, s.Root)
		} else if j, dup := roots[filepath.Clean(s.Root)]; dup {
			add(i, j, "set %q: root %s is used by another set; each set needs its own", s.Name, s.Root)
		} else {
			roots[filepath.Clean(s.Root)] = i
		}
		if s.Installer != "" && s.Installer != "native" && s.Installer != "pip" {
			add(i, -1, "set %q: installer %q must be \"native\" or \"pip\"", s.Name, s.Installer)
		}
		if s.Service != nil {
			for _, p := range s.Service.Check() {
				add(i, -1, "set %q: service: %s", s.Name, p)
			}
		}
		if s.Health != nil {
			for _, p := range s.Health.Check() {
				add(i, -1, "set %q: health: %s", s.Name, p)
			}
		}
		if s.Keep != nil && *s.Keep < 1 {
			add(i, -1, "set %q: keep must be at least 1", s.Name)
		}
	}
	return out
}

// setLines returns the start line of each set block, in order.
func setLines(f *hcl.File) []int {
	content, _, _ := f.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "set"}}})
	var out []int
	if content == nil {
		return out
	}
	for _, b := range content.Blocks {
		out = append(out, b.DefRange.Start.Line)
	}
	return out
}

func diagError(diags hcl.Diagnostics) error {
	var msgs []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		loc := ""
		if d.Subject != nil {
			loc = fmt.Sprintf("%s:%d: ", d.Subject.Filename, d.Subject.Start.Line)
		}
		msg := loc + d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		msgs = append(msgs, msg)
	}
	return fmt.Errorf("%s", strings.Join(msgs, "\n"))
}

// JSON renders the plan in HCL's JSON syntax, which Load reads back.
func (pl *Plan) JSON() ([]byte, error) {
	return json.MarshalIndent(pl, "", "  ")
}

var restartValues = map[string]bool{"no": true, "always": true, "on-success": true, "on-failure": true, "on-abnormal": true, "on-abort": true, "on-watchdog": true}

// Check returns every problem with the service block.
func (s *Service) Check() []string {
	var out []string
	if strings.TrimSpace(s.Command) == "" {
		out = append(out, "command must not be empty")
	}
	if strings.ContainsAny(s.Command, "\n") {
		out = append(out, "command must be one line")
	}
	if s.Restart != "" && !restartValues[s.Restart] {
		out = append(out, fmt.Sprintf("restart %q is not one of no, always, on-success, on-failure, on-abnormal, on-abort, on-watchdog", s.Restart))
	}
	for k, v := range s.Environment {
		if k == "" || strings.ContainsAny(k, "= \t\n") {
			out = append(out, fmt.Sprintf("environment name %q is not valid", k))
		}
		if strings.Contains(v, "\n") {
			out = append(out, fmt.Sprintf("environment %s: value must be one line", k))
		}
	}
	for _, f := range []struct{ name, v string }{{"environment_file", s.EnvironmentFile}, {"working_directory", s.WorkingDirectory}} {
		if f.v != "" && !filepath.IsAbs(f.v) {
			out = append(out, fmt.Sprintf("%s %q must be an absolute path", f.name, f.v))
		}
	}
	for _, name := range []string{s.User, s.Group} {
		if name != "" && !validAccount(name) {
			out = append(out, fmt.Sprintf("%q is not a valid user or group name", name))
		}
	}
	return out
}

func validAccount(n string) bool {
	if len(n) > 32 || n[0] == '-' {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
