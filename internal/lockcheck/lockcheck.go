// Package lockcheck checks locks before a bake, where Packer's Prepare
// (`packer validate`) can report them: every lock parses (each problem
// with its file and line, all at once), and each pin has, in a local
// folder of wheels, at least one wheel of its version (for any platform)
// whose hash the lock allows.
//
// Whether a wheel fits the machine's interpreter is not checked here: that
// needs the machine, and stays a bake-time check.
//
//	l, err := lockcheck.Parse("api.txt")
//	errs, warns := lockcheck.Wheels(l, "wheels")
package lockcheck

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/lock"
	"github.com/pipbake/packer-plugin-pipbake/internal/marker"
	"github.com/pipbake/packer-plugin-pipbake/internal/suggest"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheel"
)

// Parse reads the lock at path: lock.ParseFile, whose errors name the
// file and line of every problem (all of them, joined).
func Parse(path string) (*lock.Lock, error) { return lock.ParseFile(path) }

// Linux is what every machine pipbake bakes has in common: the marker
// variables a pin's marker is bound to before deciding whether the pin can
// be needed at all.
var Linux = marker.Env{
	"os_name":         "posix",
	"sys_platform":    "linux",
	"platform_system": "Linux",
}

// Wheels checks that every pin of l has a wheel in the folders dirs (the
// wheels directly inside them, as a wheelhouse is read): one of the pin's
// version, for any platform, that the lock lists (pylock) and whose sha256
// the lock allows.
//
// A pin every Linux machine needs (no marker, or one that holds on Linux
// whatever the interpreter) without such a wheel is in errs; a pin only
// some machines need (python_version < "3.11", …) is in warns; a pin whose
// marker is false on Linux is not checked. Each names the lock's file and
// line; a name with no wheel at all gets the nearest names that have one
// ("did you mean").
func Wheels(l *lock.Lock, dirs ...string) (errs, warns []error) {
	return check(l, dirs, false)
}

// Sources is Wheels for folder sources, which pipbake fetch reads with
// their subfolders (but not those whose names start with a dot).
func Sources(l *lock.Lock, dirs ...string) (errs, warns []error) {
	return check(l, dirs, true)
}

func check(l *lock.Lock, dirs []string, recursive bool) (errs, warns []error) {
	byKey := map[string][]found{}
	var projects []string
	add := func(dir, file string) {
		n, err := wheel.ParseName(file)
		if err != nil {
			return // a stray file is never chosen
		}
		if _, seen := byKey[n.Key()]; !seen {
			projects = append(projects, n.Distribution)
		}
		byKey[n.Key()] = append(byKey[n.Key()], found{dir: dir, name: n})
	}
	for _, dir := range dirs {
		// The separator makes a symlinked folder read as the folder.
		root := strings.TrimRight(dir, string(filepath.Separator)) + string(filepath.Separator)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != root && (!recursive || strings.HasPrefix(d.Name(), ".")) {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(d.Name(), ".whl") { // as wheelhouse.Open: a symlink counts
				add(filepath.Dir(p), d.Name())
			}
			return nil
		})
		if err != nil {
			return []error{fmt.Errorf("list wheels in %s: %w", dir, err)}, nil
		}
	}
	sort.Strings(projects)
	ctx := marker.Metadata
	if l.Format == lock.PyLock {
		ctx = marker.LockFile
	}
	for _, pin := range l.Pins {
		needed := "every Linux machine needs it"
		if pin.Marker != "" {
			expr, err := marker.Parse(pin.Marker)
			if err != nil {
				continue // the lock's parser checked it; ForEnv reports it at bake time
			}
			_, value, decided, err := expr.Bind(withContext(Linux, ctx))
			switch {
			case err != nil:
			case decided && !value:
				continue // never needed on Linux
			case !decided:
				needed = ""
			}
		}
		problem := checkPin(pin, byKey[pin.Key()], projects, dirs)
		if problem == "" {
			continue
		}
		e := &lock.Error{File: l.Path, Line: pin.Line, Msg: problem}
		if needed == "" {
			e.Msg += fmt.Sprintf(" (needed only where %s)", pin.Marker)
			warns = append(warns, e)
		} else {
			errs = append(errs, e)
		}
	}
	return errs, warns
}

// withContext adds what a requirements file's markers read as empty: pip
// evaluates them as core metadata, where "extra" is "".
func withContext(env marker.Env, ctx marker.Context) marker.Env {
	if ctx != marker.Metadata {
		return env
	}
	out := marker.Env{"extra": ""}
	for k, v := range env {
		out[k] = v
	}
	return out
}

type found struct {
	dir  string
	name wheel.Name
}

// checkPin says what is wrong with the wheels of one pin ("" when one
// fits).
func checkPin(pin lock.Pin, have []found, projects, dirs []string) string {
	spec := pin.Name + "==" + pin.Version
	where := strings.Join(dirs, ", ")
	if len(have) == 0 {
		return fmt.Sprintf("%s: no wheel of %s in %s%s", spec, pin.Name, where, suggest.Phrase(suggest.Projects(pin.Name, projects)))
	}
	listed := map[string]lock.File{}
	for _, f := range pin.Wheels {
		listed[f.Name] = f
	}
	var others, unlisted, mismatched []string
	matched := 0
	for _, f := range have {
		if !f.name.Matches(pin.Name, pin.Version) {
			others = append(others, f.name.Version)
			continue
		}
		allowed := pin.SHA256()
		if len(listed) > 0 {
			lf, ok := listed[f.name.File]
			if !ok {
				unlisted = append(unlisted, f.name.File)
				continue
			}
			if hs := (lock.Pin{Hashes: lf.Hashes}).SHA256(); len(hs) > 0 {
				allowed = hs
			}
		}
		matched++
		sum, err := hashFile(filepath.Join(f.dir, f.name.File))
		if err != nil {
			return fmt.Sprintf("%s: %v", spec, err)
		}
		if !slices.Contains(allowed, sum) {
			mismatched = append(mismatched, fmt.Sprintf("%s has sha256 %s", filepath.Join(f.dir, f.name.File), sum))
		}
	}
	switch {
	case len(mismatched) > 0:
		return fmt.Sprintf("%s: %s, which the lock does not allow (it allows %s): the wheel is not the one locked, or the lock is out of date",
			spec, strings.Join(mismatched, "; "), strings.Join(pin.SHA256(), ", "))
	case matched > 0:
		return ""
	case len(unlisted) > 0:
		return fmt.Sprintf("%s: no wheel the lock lists in %s (there: %s, which it does not list)", spec, where, strings.Join(unlisted, ", "))
	}
	slices.Sort(others)
	return fmt.Sprintf("%s: no wheel of version %s in %s (versions there: %s)", spec, pin.Version, where, strings.Join(slices.Compact(others), ", "))
}

// hashFile is the hex sha256 of a file's bytes.
func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("hash wheel: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash wheel %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
