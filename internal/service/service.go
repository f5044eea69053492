// Package service turns a set's service block into a systemd unit enabled
// for the next boot. It writes the unit and the multi-user.target.wants
// link itself, as `systemctl enable` would, because systemd is not running
// while an image is baked.
package service

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
)

// Options locate the system being configured.
type Options struct {
	// SysRoot is the root of the system (default "/"); units go to
	// <SysRoot>/etc/systemd/system.
	SysRoot string
}

func (o Options) sysroot() string {
	if o.SysRoot == "" {
		return "/"
	}
	return o.SysRoot
}

// UnitDir is where units are written, relative to the system root.
const UnitDir = "/etc/systemd/system"

// Render returns the unit file for set, installed at root.
func Render(set, root string, s *plan.Service) []byte {
	current := filepath.Join(root, "current")
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Written by pipbake for set %q. Rolling back switches %s; restart the service after.\n", set, current)
	b.WriteString("[Unit]\n")
	fmt.Fprintf(&b, "Description=%s (pipbake set %s)\n", set, set)
	after := append([]string{"network-online.target"}, s.After...)
	fmt.Fprintf(&b, "After=%s\n", strings.Join(after, " "))
	b.WriteString("Wants=network-online.target\n\n[Service]\nType=simple\n")
	if s.User != "" {
		fmt.Fprintf(&b, "User=%s\n", s.User)
	}
	if s.Group != "" {
		fmt.Fprintf(&b, "Group=%s\n", s.Group)
	}
	wd := s.WorkingDirectory
	if wd == "" {
		wd = current
	}
	fmt.Fprintf(&b, "WorkingDirectory=%s\n", wd)
	fmt.Fprintf(&b, "Environment=\"PATH=%s:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"\n", filepath.Join(current, "bin"))
	keys := make([]string, 0, len(s.Environment))
	for k := range s.Environment {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "Environment=%s\n", quote(k+"="+s.Environment[k]))
	}
	if s.EnvironmentFile != "" {
		fmt.Fprintf(&b, "EnvironmentFile=%s\n", s.EnvironmentFile)
	}
	fmt.Fprintf(&b, "ExecStart=%s\n", ExecStart(current, s.Command))
	restart := s.Restart
	if restart == "" {
		restart = "on-failure"
	}
	fmt.Fprintf(&b, "Restart=%s\n\n[Install]\nWantedBy=multi-user.target\n", restart)
	return b.Bytes()
}

// ExecStart resolves a command whose program has no slash against the
// set's current/bin.
func ExecStart(current, command string) string {
	command = strings.TrimSpace(command)
	prog, rest, _ := strings.Cut(command, " ")
	if !strings.Contains(prog, "/") {
		prog = filepath.Join(current, "bin", prog)
	}
	if rest == "" {
		return strings.ReplaceAll(prog, "%", "%%")
	}
	return strings.ReplaceAll(prog, "%", "%%") + " " + rest
}

// quote renders a value for an Environment= line: double quotes, with
// backslashes, quotes and % escaped.
func quote(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "%", "%%").Replace(s)
	return `"` + s + `"`
}

// Enable writes the unit for set and links it into
// multi-user.target.wants, creating the service user and group first when
// they do not exist. It returns the unit's path.
func Enable(opts Options, set, root string, s *plan.Service) (string, error) {
	if err := ensureAccount(opts, s, root); err != nil {
		return "", fmt.Errorf("service %s: %w", set, err)
	}
	dir := filepath.Join(opts.sysroot(), UnitDir)
	wants := filepath.Join(dir, "multi-user.target.wants")
	if err := os.MkdirAll(wants, 0o755); err != nil {
		return "", fmt.Errorf("service %s: %w", set, err)
	}
	name := set + ".service"
	unit := filepath.Join(dir, name)
	tmp := unit + ".pipbake-tmp"
	if err := os.WriteFile(tmp, Render(set, root, s), 0o644); err != nil {
		return "", fmt.Errorf("service %s: write unit: %w", set, err)
	}
	if err := os.Rename(tmp, unit); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("service %s: write unit: %w", set, err)
	}
	link := filepath.Join(wants, name)
	target := filepath.Join(UnitDir, name) // absolute inside the system, as systemctl enable writes it
	if cur, err := os.Readlink(link); err == nil && cur == target {
		return unit, nil
	}
	_ = os.Remove(link)
	if err := os.Symlink(target, link); err != nil {
		return "", fmt.Errorf("service %s: enable: %w", set, err)
	}
	return unit, nil
}

func ensureAccount(opts Options, s *plan.Service, root string) error {
	if s.Group != "" && s.Group != "root" {
		found, err := hasEntry(opts, "/etc/group", s.Group)
		if err != nil {
			return err
		}
		if !found {
			if err := run(opts, "groupadd", "--system", s.Group); err != nil {
				return fmt.Errorf("create group %s: %w", s.Group, err)
			}
		}
	}
	if s.User == "" || s.User == "root" {
		return nil
	}
	if found, err := hasEntry(opts, "/etc/passwd", s.User); err != nil || found {
		return err
	}
	args := []string{"--system", "--no-create-home", "--home-dir", root, "--shell", "/usr/sbin/nologin"}
	if s.Group != "" {
		args = append(args, "--gid", s.Group)
	} else {
		args = append(args, "--user-group")
	}
	if err := run(opts, "useradd", append(args, s.User)...); err != nil {
		return fmt.Errorf("create user %s: %w", s.User, err)
	}
	return nil
}

// hasEntry reports whether the system's passwd or group file names n.
func hasEntry(opts Options, file, n string) (bool, error) {
	data, err := os.ReadFile(filepath.Join(opts.sysroot(), file))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up %s in %s: %w", n, file, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok && name == n {
			return true, nil
		}
	}
	return false, nil
}

func run(opts Options, name string, args ...string) error {
	if opts.sysroot() != "/" {
		args = append([]string{"--root", opts.sysroot()}, args...)
	}
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
