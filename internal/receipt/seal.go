package receipt

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
)

// Seal checks a release just installed, whose receipt is not written yet,
// against the RECORDs and environment files rc lists (sizes only: the
// installer hashed every byte it wrote), and records in rc what Verify
// holds the release to: each RECORD's sha256, the file count and every
// file's and directory's mode. Write then adds the SBOM's sha256.
func Seal(releaseDir string, rc *Receipt) (*Report, error) {
	return SealKnown(releaseDir, rc, nil)
}

// Known is what an installer knows of a regular file it just made: its
// size and mode, as a stat of it found them.
type Known struct {
	Size int64
	Mode fs.FileMode
}

// SealKnown is Seal for an installer that knows the size and mode of the
// regular files it made (keyed by path in the release, as the manifest
// has them; npm's layout has them from the stat that checked each file's
// store copy before linking it, or from what it wrote): the check still
// lists every folder and compares every name, type and link with the
// receipt, but takes those files' sizes and modes from known instead of a
// stat of each.
func SealKnown(releaseDir string, rc *Receipt, known map[string]Known) (*Report, error) {
	rc.Schema = Schema
	rep := &Report{Release: rc.Release, Path: releaseDir, Problems: []Problem{}}
	defer sortProblems(rep)
	want, digests := expectations(releaseDir, rc, false, rep)
	w := &walker{root: releaseDir, want: want, opts: Options{SizesOnly: true}, compiled: closed(rc), seal: true, known: known}
	if err := w.run(); err != nil {
		return nil, fmt.Errorf("check the new release %s: %w", releaseDir, err)
	}
	rep.Problems = append(rep.Problems, w.problems...)
	for rel, x := range want {
		if !x.seen {
			rep.add(rel, Missing, "listed by %s", x.owner)
		}
	}
	rep.Checked = w.checked
	if !rep.Clean() {
		return rep, nil
	}
	for i := range rc.Distributions {
		rc.Distributions[i].RecordSHA256 = digests[i]
	}
	rc.Files = w.files
	rc.Modes = modesOf(w.seen)
	return rep, nil
}

// Write renders the SBOM, records its sha256 in the receipt and writes
// both into the release directory, the receipt last: its presence marks
// the release complete.
func (r *Receipt) Write(dir string) error {
	return r.WriteWithSBOM(dir, nil)
}

// WriteWithSBOM is Write with the SBOM already rendered (by r.SBOM on a
// copy of r that differs from r in nothing the SBOM reads); nil renders
// it.
func (r *Receipt) WriteWithSBOM(dir string, sbom []byte) error {
	if sbom == nil {
		var err error
		if sbom, err = r.SBOM(); err != nil {
			return fmt.Errorf("render SBOM: %w", err)
		}
	}
	sum := sha256.Sum256(sbom)
	r.SBOMSHA256 = hex.EncodeToString(sum[:])
	if err := WriteFile(dir, SBOMName, sbom); err != nil {
		return err
	}
	data, err := r.Marshal()
	if err != nil {
		return err
	}
	return WriteFile(dir, FileName, data)
}

// Mode classes.
const (
	classFile = iota
	classExec
	classDir
)

// modeOf is one path's class and permission bits.
type modeOf struct {
	path  string
	class int
	bits  uint32
}

// modeBits is a mode's permission, set-id and sticky bits as in stat(2).
func modeBits(m fs.FileMode) uint32 {
	b := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}

func octal(b uint32) string { return fmt.Sprintf("%04o", b) }

// modesOf records the modes seen: per class the bits most paths have, and
// the paths that differ.
func modesOf(seen []modeOf) *Modes {
	var counts [3]map[uint32]int
	for i := range counts {
		counts[i] = map[uint32]int{}
	}
	for _, s := range seen {
		counts[s.class][s.bits]++
	}
	var common [3]uint32
	for c, m := range counts {
		best := -1
		for bits, n := range m {
			if n > best || n == best && bits < common[c] {
				best, common[c] = n, bits
			}
		}
	}
	md := &Modes{File: octal(common[classFile]), Dir: octal(common[classDir]), Executables: []string{}}
	if len(counts[classExec]) > 0 {
		md.Exec = octal(common[classExec])
	}
	for _, s := range seen {
		if s.class == classExec {
			md.Executables = append(md.Executables, s.path)
		}
		if s.bits != common[s.class] {
			if md.Other == nil {
				md.Other = map[string]string{}
			}
			md.Other[s.path] = octal(s.bits)
		}
	}
	sort.Strings(md.Executables)
	return md
}

// modeRules are a receipt's Modes, parsed for the walk.
type modeRules struct {
	file, exec, dir uint32
	execs           map[string]bool
	other           map[string]uint32
}

func parseOctal(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o7777 {
		return 0, fmt.Errorf("mode %q is not octal permission bits", s)
	}
	return uint32(n), nil
}

// expectModes makes the walk hold every mode to md.
func (w *walker) expectModes(md *Modes) error {
	if md == nil {
		return fmt.Errorf("records no file modes")
	}
	r := &modeRules{execs: map[string]bool{}, other: map[string]uint32{}}
	var err error
	if r.file, err = parseOctal(md.File); err != nil {
		return fmt.Errorf("records files' %w", err)
	}
	if r.dir, err = parseOctal(md.Dir); err != nil {
		return fmt.Errorf("records directories' %w", err)
	}
	if md.Exec != "" {
		if r.exec, err = parseOctal(md.Exec); err != nil {
			return fmt.Errorf("records executables' %w", err)
		}
	}
	for _, p := range md.Executables {
		r.execs[p] = true
	}
	for p, s := range md.Other {
		b, err := parseOctal(s)
		if err != nil {
			return fmt.Errorf("records for %s a %w", p, err)
		}
		r.other[p] = b
	}
	w.modes = r
	return nil
}

func (r *modeRules) checkFile(rel string, m fs.FileMode) *Problem {
	if r == nil {
		return nil
	}
	want, ok := r.other[rel]
	if !ok {
		want = r.file
		if r.execs[rel] {
			want = r.exec
		}
	}
	if got := modeBits(m); got != want {
		return &Problem{Path: rel, Kind: Modified, Detail: fmt.Sprintf("mode %s, recorded %s", octal(got), octal(want))}
	}
	return nil
}

// checkDir checks a directory's mode. In a release installed without
// bytecode, Python makes __pycache__ folders at run time, with its
// umask: any mode without set-id, sticky or world-write bits is allowed.
func (r *modeRules) checkDir(rel string, m fs.FileMode, compiled bool) *Problem {
	if r == nil {
		return nil
	}
	want, ok := r.other[rel]
	if !ok {
		want = r.dir
	}
	got := modeBits(m)
	if got == want || !compiled && !ok && path.Base(rel) == "__pycache__" && got&0o7002 == 0 {
		return nil
	}
	return &Problem{Path: rel, Kind: Modified, Detail: fmt.Sprintf("mode %s, recorded %s", octal(got), octal(want))}
}
