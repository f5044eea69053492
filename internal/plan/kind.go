package plan

import (
	"fmt"
	"io"
	"os"

	"github.com/pipbake/packer-plugin-pipbake/internal/npm"
)

// Kinds of sets.
const (
	KindPython = "python"
	KindNode   = "node"
)

// KindOf is a set's kind: Kind when given, else what its lock is (IsNodeLock).
func KindOf(kind, lock string) string {
	if kind != "" {
		return kind
	}
	if IsNodeLock(lock) {
		return KindNode
	}
	return KindPython
}

// KindOrDefault is the set's kind (KindOf).
func (s Set) KindOrDefault() string { return KindOf(s.Kind, s.Lock) }

// IsNodeLock says whether a lock file is npm's: by its name
// (package-lock.json, npm-shrinkwrap.json), else by its content (a JSON
// object with a lockfileVersion near its start). A file that cannot be
// read is not.
func IsNodeLock(p string) bool {
	if npm.IsLockFile(p) {
		return true
	}
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	return npm.LooksLikeLock(head[:n])
}

// checkKind reports keys that do not belong to the set's kind.
func (s Set) checkKind() []string {
	var out []string
	if s.Kind != "" && s.Kind != KindPython && s.Kind != KindNode {
		return []string{fmt.Sprintf("kind %q must be %q or %q", s.Kind, KindPython, KindNode)}
	}
	kind := s.KindOrDefault()
	if kind == KindNode && s.Kind != "" && s.Lock != "" && !npm.IsLockFile(s.Lock) && fileExists(s.Lock) && !IsNodeLock(s.Lock) {
		out = append(out, fmt.Sprintf("kind is %q but lock %s is no npm lock (no lockfileVersion)", kind, s.Lock))
	}
	other := map[string]bool{}
	switch kind {
	case KindNode:
		other["python"], other["compile"], other["installer"] = s.Python != "", s.Compile != nil, s.Installer != ""
	default:
		other["node"], other["include_dev"], other["scripts_allow"], other["app"] = s.Node != "", s.IncludeDev, len(s.ScriptsAllow) > 0, s.App != ""
	}
	for _, k := range []string{"python", "compile", "installer", "node", "include_dev", "scripts_allow", "app"} {
		if other[k] {
			out = append(out, fmt.Sprintf("%s does not apply to a %s set (lock %s)", k, kind, s.Lock))
		}
	}
	for _, n := range s.ScriptsAllow {
		if err := npm.CheckName(n); err != nil {
			out = append(out, fmt.Sprintf("scripts_allow: %v", err))
		}
	}
	return out
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
