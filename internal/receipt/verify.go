package receipt

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Problem kinds.
const (
	Missing    = "missing"
	Modified   = "modified"
	Unexpected = "unexpected"
)

// Problem is one difference between a release and its records.
type Problem struct {
	Path   string `json:"path"` // relative to the release
	Kind   string `json:"kind"`
	Detail string `json:"detail,omitempty"`
}

// Report is the outcome of Verify.
type Report struct {
	Release  string    `json:"release"`
	Path     string    `json:"path"`
	Checked  int       `json:"checked"`
	Problems []Problem `json:"problems"`
}

// Clean reports whether no problem was found.
func (r *Report) Clean() bool { return len(r.Problems) == 0 }

type expect struct {
	sha256 []byte // nil: no hash recorded
	// alts are other accepted hashes: when two distributions ship the same
	// path, the one installed later wins and both records stand.
	alts   [][]byte
	size   int64 // -1: unknown
	link   string
	isLink bool
	owner  string
	seen   atomic.Bool // found by the walk
}

// Options tune Verify.
type Options struct {
	// SizesOnly skips content hashing (used right after an install, whose
	// writer already hashed every byte).
	SizesOnly bool
}

// Verify checks every file of a release against the RECORD files of its
// distributions and the receipt: files that are missing, whose content
// differs, and files nothing accounts for.
func Verify(releaseDir string, opts Options) (*Report, error) {
	if resolved, err := filepath.EvalSymlinks(releaseDir); err == nil {
		releaseDir = resolved // <root>/current is a link; walk what it points at
	}
	rc, err := Read(releaseDir)
	if err != nil {
		return nil, err
	}
	rep := &Report{Release: rc.Release, Path: releaseDir, Problems: []Problem{}}
	want := map[string]*expect{}
	for _, e := range rc.Environment {
		x := &expect{size: -1, owner: "environment"}
		if e.Link != "" {
			x.isLink, x.link = true, e.Link
		} else if e.SHA256 != "" {
			x.sha256, _ = hex.DecodeString(e.SHA256)
		}
		want[e.Path] = x
	}
	if err := readRecords(releaseDir, rc.Distributions, want, rep); err != nil {
		return nil, err
	}
	w := &walker{root: releaseDir, want: want, opts: opts, compiled: rc.Compiled}
	if err := w.run(); err != nil {
		return nil, fmt.Errorf("verify %s: %w", releaseDir, err)
	}
	rep.Problems = append(rep.Problems, w.problems...)
	for rel, x := range want {
		if !x.seen.Load() {
			rep.Problems = append(rep.Problems, Problem{Path: rel, Kind: Missing, Detail: "listed by " + x.owner})
		}
	}
	rep.Checked = int(w.checked.Load())
	sort.Slice(rep.Problems, func(i, j int) bool { return rep.Problems[i].Path < rep.Problems[j].Path })
	return rep, nil
}

// walker checks a release's files as it lists them, a goroutine per
// directory and at most 2 per CPU at work: a release is tens of thousands
// of files, and listing them one directory after another was most of an
// install's closing check.
type walker struct {
	root     string
	want     map[string]*expect // read-only while walking
	opts     Options
	compiled bool

	mu       sync.Mutex
	problems []Problem
	err      error
	checked  atomic.Int64
	wg       sync.WaitGroup
	slots    chan struct{}
	// hashes feeds the content checks to a pool of their own, so one
	// folder of big files is hashed on every core.
	hashes chan string
}

func (w *walker) run() error {
	n := 2 * runtime.NumCPU()
	w.slots = make(chan struct{}, n)
	var hashers sync.WaitGroup
	if !w.opts.SizesOnly {
		w.hashes = make(chan string, n)
		for i := 0; i < n; i++ {
			hashers.Add(1)
			go func() {
				defer hashers.Done()
				for rel := range w.hashes {
					if p := checkHash(filepath.Join(w.root, filepath.FromSlash(rel)), rel, w.want[rel]); p != nil {
						w.problem(*p)
					}
				}
			}()
		}
	}
	w.wg.Add(1)
	go w.dir("")
	w.wg.Wait()
	if w.hashes != nil {
		close(w.hashes)
		hashers.Wait()
	}
	return w.err
}

func (w *walker) problem(p Problem) {
	w.mu.Lock()
	w.problems = append(w.problems, p)
	w.mu.Unlock()
}

// dir checks the files of the directory rel ("" for the release) and walks
// its subdirectories.
func (w *walker) dir(rel string) {
	defer w.wg.Done()
	w.slots <- struct{}{}
	defer func() { <-w.slots }()
	// Readdir stats each entry relative to the open directory, not by a
	// path walked from the root.
	dir := filepath.Join(w.root, filepath.FromSlash(rel))
	var entries []fs.FileInfo
	f, err := os.Open(dir)
	if err == nil {
		entries, err = f.Readdir(-1)
		f.Close()
	}
	if err != nil {
		w.mu.Lock()
		if w.err == nil {
			w.err = err
		}
		w.mu.Unlock()
		return
	}
	for _, e := range entries {
		name := e.Name()
		if rel != "" {
			name = rel + "/" + name
		}
		if e.IsDir() {
			w.wg.Add(1)
			go w.dir(name)
			continue
		}
		if name == FileName || name == SBOMName {
			continue
		}
		x, ok := w.want[name]
		if !ok {
			if !w.compiled && isPyc(name) {
				continue // written by Python at run time in a release installed without bytecode
			}
			w.problem(Problem{Path: name, Kind: Unexpected, Detail: "not in any RECORD or the receipt"})
			continue
		}
		x.seen.Store(true)
		w.checked.Add(1)
		if p := checkInfo(filepath.Join(dir, e.Name()), name, e, x); p != nil {
			w.problem(*p)
		} else if w.hashes != nil && !x.isLink && x.sha256 != nil {
			w.hashes <- name
		}
	}
}

func isPyc(rel string) bool {
	return strings.HasSuffix(rel, ".pyc") && strings.Contains(rel, "__pycache__/")
}

// checkInfo checks what a file is (its lstat st) against x: a link's
// target, or a regular file's size. Content is checkHash's.
func checkInfo(p, rel string, st fs.FileInfo, x *expect) *Problem {
	if x.isLink {
		to, err := os.Readlink(p)
		if err != nil || to != x.link {
			return &Problem{Path: rel, Kind: Modified, Detail: fmt.Sprintf("link points to %q, want %q", to, x.link)}
		}
		return nil
	}
	if !st.Mode().IsRegular() {
		return &Problem{Path: rel, Kind: Modified, Detail: "is a " + st.Mode().Type().String() + ", want a regular file"}
	}
	if x.size >= 0 && st.Size() != x.size {
		return &Problem{Path: rel, Kind: Modified, Detail: fmt.Sprintf("size %d, recorded %d", st.Size(), x.size)}
	}
	return nil
}

// checkHash compares a regular file's content with its recorded hashes.
func checkHash(p, rel string, x *expect) *Problem {
	f, err := os.Open(p)
	if err != nil {
		return &Problem{Path: rel, Kind: Modified, Detail: err.Error()}
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return &Problem{Path: rel, Kind: Modified, Detail: err.Error()}
	}
	got := h.Sum(nil)
	for _, alt := range x.alts {
		if bytes.Equal(got, alt) {
			return nil
		}
	}
	if !bytes.Equal(got, x.sha256) {
		return &Problem{Path: rel, Kind: Modified, Detail: "content differs from the recorded sha256"}
	}
	return nil
}

// readRecords reads every distribution's RECORD in parallel and merges
// them into want in the receipt's order (the order they were installed
// in, which decides what a path two distributions ship must hold).
func readRecords(releaseDir string, dists []Distribution, want map[string]*expect, rep *Report) error {
	type parsed struct {
		want map[string]*expect
		rep  Report
	}
	out := make([]parsed, len(dists))
	var wg sync.WaitGroup
	for i, d := range dists {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i].want = map[string]*expect{}
			readRecord(releaseDir, d, out[i].want, &out[i].rep)
		}()
	}
	wg.Wait()
	for i := range dists {
		rep.Problems = append(rep.Problems, out[i].rep.Problems...)
		for rel, x := range out[i].want {
			prev, dup := want[rel]
			if !dup {
				want[rel] = x
				continue
			}
			if x.sha256 != nil {
				prev.alts = append(prev.alts, x.sha256)
			}
			prev.alts = append(prev.alts, x.alts...)
			if prev.size != x.size {
				prev.size = -1
			}
		}
	}
	return nil
}

func readRecord(releaseDir string, d Distribution, want map[string]*expect, rep *Report) error {
	recRel := d.DistInfo + "/RECORD"
	data, err := os.ReadFile(filepath.Join(releaseDir, filepath.FromSlash(recRel)))
	if err != nil {
		rep.Problems = append(rep.Problems, Problem{Path: recRel, Kind: Missing, Detail: fmt.Sprintf("RECORD of %s %s", d.Name, d.Version)})
		return nil
	}
	libDir := filepath.Dir(filepath.FromSlash(d.DistInfo))
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		rep.Problems = append(rep.Problems, Problem{Path: recRel, Kind: Modified, Detail: "not valid CSV: " + err.Error()})
		return nil
	}
	owner := d.Name + " " + d.Version
	for _, row := range rows {
		if len(row) == 0 || row[0] == "" {
			continue
		}
		rel := filepath.ToSlash(filepath.Clean(filepath.Join(libDir, filepath.FromSlash(row[0]))))
		if rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
			rep.Problems = append(rep.Problems, Problem{Path: recRel, Kind: Modified, Detail: fmt.Sprintf("lists %q, outside the release", row[0])})
			continue
		}
		x := &expect{size: -1, owner: owner}
		if len(row) > 1 && row[1] != "" {
			alg, enc, _ := strings.Cut(row[1], "=")
			if alg == "sha256" {
				x.sha256, _ = base64.RawURLEncoding.DecodeString(strings.TrimRight(enc, "="))
			}
		}
		if len(row) > 2 && row[2] != "" {
			x.size, _ = strconv.ParseInt(row[2], 10, 64)
		}
		if prev, dup := want[rel]; dup {
			if x.sha256 != nil {
				prev.alts = append(prev.alts, x.sha256)
			}
			if prev.size != x.size {
				prev.size = -1
			}
			continue
		}
		want[rel] = x
	}
	return nil
}
