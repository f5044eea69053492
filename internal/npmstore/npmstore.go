// Package npmstore is a content-addressed store of unpacked npm packages.
//
// For a package's integrity (the lock's, which its tarball was checked
// against when it was first installed) the store keeps the files that
// tarball unpacks to as pipbake lays them out: each path inside the
// package, its mode before the umask, size, sha256, and the bytes, all in
// one sealed file. A later install of the same package writes its files
// from that file (read in one go) instead of reading, checking and inflating the
// tarball again, and takes their hashes for the receipt from it. Releases
// share nothing with the store: every file is written anew, so a file
// changed in one release changes nowhere else.
//
// A store is a folder: DIR/v1/<2 hex>/<64 hex>.pkg, named by the sha256 of
// the integrity string, each written whole to a temporary file and renamed
// into place, so parallel installs sharing a store stay consistent.
// Opening one checks its seal (a CRC-32C over the file), then every
// bound and path in it: a damaged, truncated or hostile file is a miss,
// counted, never laid out.
//
// DIR/node-versions/ keeps what local node binaries answered to
// `node --version` (npm.Local's VersionCache): installs that find a store
// do not start node to probe it.
package npmstore

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/lru"
	"github.com/pipbake/packer-plugin-pipbake/internal/mmap"
)

// Env names the store's folder when no flag does; Off (as a flag's or
// Env's value) turns the store off.
const (
	Env = "PIPBAKE_NPM_CACHE"
	Off = "off"
	// LinkEnv = 1 makes installs link from the store (pipbake install
	// --npm-link).
	LinkEnv = "PIPBAKE_NPM_LINK"
)

// Dir resolves where the store is: value (a flag's), else $PIPBAKE_NPM_CACHE,
// else the user's cache folder (~/.cache/pipbake/npm). It returns "" for
// Off, or when there is no user cache folder.
func Dir(value string) string {
	if value == "" {
		value = os.Getenv(Env)
	}
	switch value {
	case Off:
		return ""
	case "":
		base, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(base, "pipbake", "npm")
	}
	return value
}

// The file of one package:
//
//	header   magic (8 bytes), file count uint32, 4 zero bytes
//	table    count x (path length uint16, mode uint32, size uint64, sha256 32 bytes, path)
//	data     the files' bytes, in table order
//	seal     CRC-32C of all the above uint32, 4 zero bytes, sealMagic (8 bytes)
//
// little-endian.
const (
	magic      = "pbnpmst\x01"
	sealMagic  = "pbnpmsl\x01"
	headerSize = 8 + 4 + 4
	fileHead   = 2 + 4 + 8 + 32
	sealSize   = 4 + 4 + 8
	storeDir   = "v1"
	suffix     = ".pkg"
	tmpPrefix  = lru.TempPrefix
	// MaxFiles bounds the files of one package (as a tarball's entries).
	MaxFiles = 500_000
)

// mapMin is the size from which a store file is mapped rather than read.
const mapMin = 64 << 10

// touchAfter is how old a package's file time must be for a read to bump
// it, so pruning drops the least recently used first.
const touchAfter = time.Hour

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errDamaged is a store file that is not what its name says.
var errDamaged = errors.New("damaged npm store file")

// Store is an open store folder. Its methods are safe for concurrent use.
type Store struct {
	dir     string
	damaged atomic.Int64
	// DIR/files, opened once for linking (link_unix.go).
	filesOnce sync.Once
	filesFD   int
	filesErr  error
	// copyMu serialises making a copy of one content: without it, two
	// packages with an identical file, laid out side by side, each made
	// the copy, and the second rename cut the first one's link loose.
	copyMu [64]sync.Mutex
}

// Open opens (creating when missing) the store folder dir.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("npm store: no folder")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("npm store %s: %w", dir, err)
	}
	if err := os.MkdirAll(filepath.Join(abs, storeDir), 0o755); err != nil {
		if _, serr := os.Stat(abs); serr != nil {
			return nil, fmt.Errorf("npm store: %w", err)
		}
	}
	return &Store{dir: abs}, nil
}

// NodeVersions is the folder of the store folder dir where the answers
// of `node --version` are kept (npm.Local's VersionCache).
func NodeVersions(dir string) string { return filepath.Join(dir, "node-versions") }

// Dir is the store's folder, absolute.
func (s *Store) Dir() string { return s.dir }

// Damaged is how many package files were found damaged (and ignored).
func (s *Store) Damaged() int64 { return s.damaged.Load() }

func (s *Store) path(integrity string) string {
	sum := sha256.Sum256([]byte("pipbake-npm-store 1\n" + integrity))
	h := hex.EncodeToString(sum[:])
	return filepath.Join(s.dir, storeDir, h[:2], h+suffix)
}

// File is one file of a stored package.
type File struct {
	// Path is inside the package, "/"-separated and clean.
	Path string
	// Mode is the file's mode before the umask (permission bits).
	Mode   fs.FileMode
	Size   int64
	SHA256 [32]byte
	// Data are the bytes, valid until the Package is closed.
	Data []byte
}

// Package is a stored package, read. The Data of a large one is a
// mapping of its store file: were that file cut short meanwhile (pipbake
// replaces store files whole and never truncates one), reading it would
// fault, so readers run with debug.SetPanicOnFault and recover.
type Package struct {
	Files   []File
	release func() error
}

// Close releases the package's buffer; its Files' Data are gone.
func (p *Package) Close() error {
	if p == nil || p.release == nil {
		return nil
	}
	err := p.release()
	p.release, p.Files = nil, nil
	return err
}

// Has reports whether a package is stored for integrity, and the size of
// its store file, without opening it (Get may still find it damaged).
func (s *Store) Has(integrity string) (size int64, ok bool) {
	st, err := os.Stat(s.path(integrity))
	if err != nil || !st.Mode().IsRegular() {
		return 0, false
	}
	return st.Size(), true
}

// Get opens the package stored for integrity (the lock's integrity
// string). A missing one is a miss; so is a damaged one (counted).
func (s *Store) Get(integrity string) (*Package, bool) {
	p := s.path(integrity)
	f, err := os.Open(p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.damaged.Add(1)
		}
		return nil, false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() < headerSize+sealSize {
		s.damaged.Add(1)
		return nil, false
	}
	// A large file is mapped with its pages read in by the mapping call:
	// the files are written from the page cache and the seal is checked
	// there, where reading it into a buffer first cost a third more of
	// the layout (the large fixture's 83 MB: 145 ms against 230). Small
	// ones are read whole into a pooled buffer, since a mapping costs an
	// unmap each.
	if st.Size() >= mapMin {
		if data, unmap, ok := mmap.Populated(f, st.Size()); ok {
			files, err := parse(data)
			if err != nil {
				unmap()
				s.damaged.Add(1)
				return nil, false
			}
			lru.Touch(p, st.ModTime(), touchAfter)
			return &Package{Files: files, release: unmap}, true
		}
	}
	bp := getBuf(int(st.Size()))
	data := (*bp)[:st.Size()]
	if _, err := io.ReadFull(f, data); err != nil {
		putBuf(bp)
		s.damaged.Add(1)
		return nil, false
	}
	files, err := parse(data)
	if err != nil {
		putBuf(bp)
		s.damaged.Add(1)
		return nil, false
	}
	lru.Touch(p, st.ModTime(), touchAfter)
	return &Package{Files: files, release: func() error { putBuf(bp); return nil }}, true
}

var bufs sync.Pool

// getBuf returns a buffer of at least n bytes.
func getBuf(n int) *[]byte {
	if bp, ok := bufs.Get().(*[]byte); ok && cap(*bp) >= n {
		return bp
	}
	b := make([]byte, n, max(n, 256<<10))
	return &b
}

func putBuf(bp *[]byte) { bufs.Put(bp) }

// parse checks a package file's seal and bounds and reads its table.
func parse(data []byte) ([]File, error) {
	body, err := unseal(data)
	if err != nil {
		return nil, err
	}
	files, at, err := parseTable(body)
	if err != nil {
		return nil, err
	}
	for i := range files {
		f := &files[i]
		if int64(len(body)-at) < f.Size {
			return nil, fmt.Errorf("%w: the data of %s is cut short", errDamaged, f.Path)
		}
		f.Data = body[at : at+int(f.Size) : at+int(f.Size)]
		at += int(f.Size)
	}
	if at != len(body) {
		return nil, fmt.Errorf("%w: %d bytes after the data", errDamaged, len(body)-at)
	}
	return files, nil
}

// unseal checks a store file's header magic and seal and returns what the
// seal covers.
func unseal(data []byte) ([]byte, error) {
	n := len(data) - sealSize
	if n < headerSize || string(data[:8]) != magic {
		return nil, fmt.Errorf("%w: no header", errDamaged)
	}
	seal := data[n:]
	if string(seal[8:]) != sealMagic || crc32.Checksum(data[:n], castagnoli) != binary.LittleEndian.Uint32(seal[:4]) {
		return nil, fmt.Errorf("%w: it fails its seal", errDamaged)
	}
	return data[:n], nil
}

// parseTable reads the header and table of a sealed body: the files
// without their data, and where the table ends.
func parseTable(body []byte) ([]File, int, error) {
	count := binary.LittleEndian.Uint32(body[8:12])
	if count > MaxFiles {
		return nil, 0, fmt.Errorf("%w: %d files", errDamaged, count)
	}
	files := make([]File, count)
	seen := make(map[string]bool, count)
	at := headerSize
	for i := range files {
		if len(body)-at < fileHead {
			return nil, 0, fmt.Errorf("%w: its table is cut short", errDamaged)
		}
		e := body[at:]
		pl := int(binary.LittleEndian.Uint16(e[0:2]))
		f := &files[i]
		f.Mode = fs.FileMode(binary.LittleEndian.Uint32(e[2:6]))
		size := binary.LittleEndian.Uint64(e[6:14])
		copy(f.SHA256[:], e[14:46])
		at += fileHead
		if len(body)-at < pl {
			return nil, 0, fmt.Errorf("%w: its table is cut short", errDamaged)
		}
		f.Path = string(body[at : at+pl])
		at += pl
		if f.Mode&^0o777 != 0 || !ValidPath(f.Path) || seen[f.Path] {
			return nil, 0, fmt.Errorf("%w: file %d: path %q (twice?), mode %v", errDamaged, i, f.Path, f.Mode)
		}
		seen[f.Path] = true
		if size > 1<<40 {
			return nil, 0, fmt.Errorf("%w: file %s claims %d bytes", errDamaged, f.Path, size)
		}
		f.Size = int64(size)
	}
	return files, at, nil
}

// ValidPath reports whether p may name a file inside a package: relative,
// clean, "/"-separated, with no "." or ".." segment and no control
// character.
func ValidPath(p string) bool {
	if p == "" || len(p) > 1<<12 || strings.HasPrefix(p, "/") || path.Clean(p) != p {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// PutFile is one file to store: its place in the package, and the file
// to read its bytes from.
type PutFile struct {
	Path   string
	Mode   fs.FileMode
	SHA256 [32]byte
	// Source is the file holding the bytes (a release's copy).
	Source string
}

// Put stores the package for integrity from files, reading each Source
// and checking it against its sha256 (a file changed since it was
// written is refused): whole to a temporary file, then renamed into
// place.
func (s *Store) Put(integrity string, files []PutFile) error {
	if len(files) > MaxFiles {
		return fmt.Errorf("npm store: %d files", len(files))
	}
	table := header(len(files))
	datas := make([][]byte, len(files))
	for i, f := range files {
		if !ValidPath(f.Path) || f.Mode&^0o777 != 0 || len(f.Path) > 1<<12 {
			return fmt.Errorf("npm store: refuse to store %q (mode %v)", f.Path, f.Mode)
		}
		data, err := os.ReadFile(f.Source)
		if err != nil {
			return fmt.Errorf("npm store: %w", err)
		}
		if sha256.Sum256(data) != f.SHA256 {
			return fmt.Errorf("npm store: %s changed after it was written", f.Source)
		}
		datas[i] = data
		table = appendEntry(table, f.Path, f.Mode, int64(len(data)), f.SHA256)
	}
	return writeSealed(s.path(integrity), append([][]byte{table}, datas...))
}

// header starts a store file of n files.
func header(n int) []byte {
	hdr := make([]byte, headerSize, 64<<10)
	copy(hdr[:8], magic)
	binary.LittleEndian.PutUint32(hdr[8:12], uint32(n))
	return hdr
}

// appendEntry appends one file's table entry.
func appendEntry(table []byte, p string, mode fs.FileMode, size int64, sum [32]byte) []byte {
	var e [fileHead]byte
	binary.LittleEndian.PutUint16(e[0:2], uint16(len(p)))
	binary.LittleEndian.PutUint32(e[2:6], uint32(mode))
	binary.LittleEndian.PutUint64(e[6:14], uint64(size))
	copy(e[14:46], sum[:])
	return append(append(table, e[:]...), p...)
}

// writeSealed writes parts and their seal to dst: whole to a temporary
// file, then renamed into place.
func writeSealed(dst string, parts [][]byte) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("npm store: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), tmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("npm store: %w", err)
	}
	crc := crc32.New(castagnoli)
	write := func(b []byte) {
		if err == nil {
			crc.Write(b)
			_, err = tmp.Write(b)
		}
	}
	for _, b := range parts {
		write(b)
	}
	if err == nil {
		var seal [sealSize]byte
		binary.LittleEndian.PutUint32(seal[:4], crc.Sum32())
		copy(seal[8:], sealMagic)
		_, err = tmp.Write(seal[:])
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("npm store: %w", err)
	}
	return nil
}
