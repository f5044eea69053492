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
	// VerifyOnBoot makes the service require the set's verify-on-boot
	// unit (VerifyUnit, EnableVerify) and start after it.
	VerifyOnBoot bool
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
func Render(set, root string, s *plan.Service) []byte { return render(set, root, s, false) }

// RenderVerified is Render for a set verified on boot: the service
// requires VerifyUnit(set) and starts after it.
func RenderVerified(set, root string, s *plan.Service) []byte { return render(set, root, s, true) }

func render(set, root string, s *plan.Service, verify bool) []byte {
	current := filepath.Join(root, "current")
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Written by pipbake for set %q. Rolling back switches %s; restart the service after.\n", set, current)
	b.WriteString("[Unit]\n")
	fmt.Fprintf(&b, "Description=%s (pipbake set %s)\n", set, set)
	after := append([]string{"network-online.target"}, s.After...)
	if verify {
		after = append(after, VerifyUnit(set))
		fmt.Fprintf(&b, "Requires=%s\n", VerifyUnit(set))
	}
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

// Enabled is a service Enable set up.
type Enabled struct {
	// Unit is the unit file's path.
	Unit  string
	undos []func() error
}

// Undo puts back what was there before Enable: it removes the user and
// group Enable created and restores (or removes) the unit file and its
// wants link.
func (e *Enabled) Undo() error {
	var errs []error
	for i := len(e.undos) - 1; i >= 0; i-- {
		if err := e.undos[i](); err != nil {
			errs = append(errs, err)
		}
	}
	e.undos = nil
	return errors.Join(errs...)
}

// Enable writes the unit for set and links it into
// multi-user.target.wants, creating the service user and group first when
// they do not exist. On error it leaves things as they were; Undo undoes
// it later.
func Enable(opts Options, set, root string, s *plan.Service) (_ *Enabled, err error) {
	en := &Enabled{}
	defer func() {
		if err != nil {
			_ = en.Undo()
		}
	}()
	if err := ensureAccount(opts, s, root, en); err != nil {
		return nil, fmt.Errorf("service %s: %w", set, err)
	}
	dir := filepath.Join(opts.sysroot(), UnitDir)
	wants := filepath.Join(dir, "multi-user.target.wants")
	rmdirs, err := mkdirAll(wants)
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", set, err)
	}
	en.undos = append(en.undos, func() error { rmdirs(); return nil })
	name := set + ".service"
	unit := filepath.Join(dir, name)
	restore, err := saveFile(unit)
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", set, err)
	}
	en.undos = append(en.undos, restore)
	tmp := unit + ".pipbake-tmp"
	if err := os.WriteFile(tmp, render(set, root, s, opts.VerifyOnBoot), 0o644); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("service %s: write unit: %w", set, err)
	}
	if err := os.Rename(tmp, unit); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("service %s: write unit: %w", set, err)
	}
	en.Unit = unit
	link := filepath.Join(wants, name)
	target := filepath.Join(UnitDir, name) // absolute inside the system, as systemctl enable writes it
	if cur, err := os.Readlink(link); err == nil && cur == target {
		return en, nil
	}
	restore, err = saveFile(link)
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", set, err)
	}
	en.undos = append(en.undos, restore)
	_ = os.Remove(link)
	if err := os.Symlink(target, link); err != nil {
		return nil, fmt.Errorf("service %s: enable: %w", set, err)
	}
	return en, nil
}

// saveFile returns how to put back the file or link at p as it is now
// (removing what is there when nothing was).
func saveFile(p string) (func() error, error) {
	fi, err := os.Lstat(p)
	if errors.Is(err, os.ErrNotExist) {
		return func() error {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			return nil
		}, nil
	}
	if err != nil {
		return nil, err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		to, err := os.Readlink(p)
		if err != nil {
			return nil, err
		}
		return func() error {
			_ = os.Remove(p)
			return os.Symlink(to, p)
		}, nil
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is a %s, not a file", p, fi.Mode().Type())
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	mode := fi.Mode().Perm()
	return func() error {
		tmp := p + ".pipbake-tmp"
		if err := os.WriteFile(tmp, data, mode); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("restore %s: %w", p, err)
		}
		if err := os.Rename(tmp, p); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("restore %s: %w", p, err)
		}
		return nil
	}, nil
}

// mkdirAll is os.MkdirAll, returning how to remove the folders it made
// (those still empty).
func mkdirAll(dir string) (rmdirs func(), err error) {
	var made []string
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil || filepath.Dir(p) == p {
			break
		}
		made = append(made, p)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return func() {
		for _, p := range made {
			_ = os.Remove(p)
		}
	}, nil
}

func ensureAccount(opts Options, s *plan.Service, root string, en *Enabled) error {
	if s.Group != "" && s.Group != "root" {
		found, err := hasEntry(opts, "/etc/group", s.Group)
		if err != nil {
			return err
		}
		if !found {
			if err := run(opts, "groupadd", "--system", s.Group); err != nil {
				return fmt.Errorf("create group %s: %w", s.Group, err)
			}
			en.undos = append(en.undos, func() error { return delAccount(opts, "groupdel", "/etc/group", s.Group) })
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
	en.undos = append(en.undos, func() error {
		if err := delAccount(opts, "userdel", "/etc/passwd", s.User); err != nil {
			return err
		}
		if s.Group == "" { // the user's own group, made by --user-group
			return delAccount(opts, "groupdel", "/etc/group", s.User)
		}
		return nil
	})
	return nil
}

// delAccount removes a user or group created by Enable, if still there.
func delAccount(opts Options, cmd, file, name string) error {
	if found, err := hasEntry(opts, file, name); err != nil || !found {
		return err
	}
	if err := run(opts, cmd, name); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
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
