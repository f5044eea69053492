package service

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// AgentPath is where verify-on-boot installs the pipbake agent in the
// system (a copy of the agent that installed the sets).
const AgentPath = "/var/lib/pipbake/bin/pipbake"

// VerifyUnit is the name of a set's verify-on-boot unit.
func VerifyUnit(set string) string { return "pipbake-verify@" + set + ".service" }

// RenderVerify is the verify-on-boot unit of set installed at root: a
// oneshot that runs `pipbake verify` on <root>/current against the
// receipt's sha256 baked in here, before the set's service (which requires
// it, so a failed check keeps the service from starting). The unit is a
// file named for its instance, so each set carries its own digest.
func RenderVerify(set, root, receiptSHA256 string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by pipbake for set %q: verifies the release baked into the image at every boot.\n", set)
	b.WriteString("[Unit]\n")
	fmt.Fprintf(&b, "Description=Verify pipbake set %s against its receipt\n", set)
	b.WriteString("DefaultDependencies=no\nAfter=local-fs.target\nBefore=")
	fmt.Fprintf(&b, "%s.service multi-user.target\n\n", set)
	b.WriteString("[Service]\nType=oneshot\nRemainAfterExit=yes\n")
	fmt.Fprintf(&b, "ExecStart=%s verify --root %s --receipt-sha256 %s\n", AgentPath, escapeArg(root), receiptSHA256)
	b.WriteString("StandardOutput=journal+console\n\n[Install]\nWantedBy=multi-user.target\n")
	return []byte(b.String())
}

// escapeArg keeps a path one word for systemd's ExecStart.
func escapeArg(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if strings.ContainsAny(s, " \t\"'\\") {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	return s
}

// EnableVerify sets up verify-on-boot for set: copies the agent binary to
// AgentPath, writes the set's VerifyUnit and, when the set has no service
// to require it, links it into multi-user.target.wants. On error it
// leaves things as they were; Undo undoes it later.
func EnableVerify(opts Options, set, root, receiptSHA256, agent string, hasService bool) (_ *Enabled, err error) {
	en := &Enabled{}
	defer func() {
		if err != nil {
			_ = en.Undo()
		}
	}()
	if len(receiptSHA256) != 64 {
		return nil, fmt.Errorf("verify on boot %s: receipt sha256 %q", set, receiptSHA256)
	}
	bin := filepath.Join(opts.sysroot(), AgentPath)
	rmbin, err := mkdirAll(filepath.Dir(bin))
	if err != nil {
		return nil, fmt.Errorf("verify on boot %s: %w", set, err)
	}
	en.undos = append(en.undos, func() error { rmbin(); return nil })
	restore, err := saveFile(bin)
	if err != nil {
		return nil, fmt.Errorf("verify on boot %s: %w", set, err)
	}
	en.undos = append(en.undos, restore)
	if err := copyExecutable(agent, bin); err != nil {
		return nil, fmt.Errorf("verify on boot %s: install the agent: %w", set, err)
	}
	dir := filepath.Join(opts.sysroot(), UnitDir)
	rmdirs, err := mkdirAll(filepath.Join(dir, "multi-user.target.wants"))
	if err != nil {
		return nil, fmt.Errorf("verify on boot %s: %w", set, err)
	}
	en.undos = append(en.undos, func() error { rmdirs(); return nil })
	name := VerifyUnit(set)
	unit := filepath.Join(dir, name)
	if restore, err = saveFile(unit); err != nil {
		return nil, fmt.Errorf("verify on boot %s: %w", set, err)
	}
	en.undos = append(en.undos, restore)
	tmp := unit + ".pipbake-tmp"
	if err := os.WriteFile(tmp, RenderVerify(set, root, receiptSHA256), 0o644); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("verify on boot %s: write unit: %w", set, err)
	}
	if err := os.Rename(tmp, unit); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("verify on boot %s: write unit: %w", set, err)
	}
	en.Unit = unit
	if hasService {
		return en, nil
	}
	link := filepath.Join(dir, "multi-user.target.wants", name)
	if restore, err = saveFile(link); err != nil {
		return nil, fmt.Errorf("verify on boot %s: %w", set, err)
	}
	en.undos = append(en.undos, restore)
	_ = os.Remove(link)
	if err := os.Symlink(filepath.Join(UnitDir, name), link); err != nil {
		return nil, fmt.Errorf("verify on boot %s: enable: %w", set, err)
	}
	return en, nil
}

// copyExecutable copies src to dst (mode 0755) through a temporary file.
func copyExecutable(src, dst string) error {
	if same(src, dst) {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".pipbake-tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Chmod(0o755); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func same(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}
