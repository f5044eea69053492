package layer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression of layer blobs.
type Compression string

const (
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
)

// MediaType is the OCI media type of a layer compressed with c.
func (c Compression) MediaType() types.MediaType {
	if c == Zstd {
		return types.OCILayerZStd
	}
	return types.OCILayer
}

// Fixed compressor settings: the same tar always compresses to the same
// blob (for a given build of pipbake).
const (
	GzipLevel = 6
	ZstdLevel = zstd.SpeedDefault
)

func (c Compression) writer(w io.Writer) (io.WriteCloser, error) {
	switch c {
	case Gzip, "":
		return gzip.NewWriterLevel(w, GzipLevel) // no name, no time in the header
	case Zstd:
		return zstd.NewWriter(w, zstd.WithEncoderLevel(ZstdLevel), zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderCRC(true), zstd.WithSingleSegment(false))
	}
	return nil, fmt.Errorf("layer: unknown compression %q (gzip or zstd)", c)
}

// Store keeps compressed layer blobs by digest and remembers which blob a
// tar (by diff id) compressed to, so an unchanged layer is not compressed
// again:
//
//	DIR/blobs/sha256/<hex>            compressed blobs
//	DIR/diffids/<compression>/<hex>   "sha256:<blob hex> <size>" for a diff id
type Store struct {
	Dir string
}

// Result describes one layer Build made or found.
type Result struct {
	Layer  v1.Layer
	Digest v1.Hash
	DiffID v1.Hash
	Size   int64
	// Cached is true when the blob was already in the store.
	Cached bool
}

// Build writes a layer with write: called once to hash the tar and, when
// the store does not have its blob yet, once more to compress it.
func (s *Store) Build(write func(io.Writer) error, c Compression) (*Result, error) {
	return s.build(write, c, true)
}

// BuildNew is Build for a layer that is probably not stored yet: the tar
// is written once, compressed while it is hashed, and the blob is dropped
// if the store turns out to have it.
func (s *Store) BuildNew(write func(io.Writer) error, c Compression) (*Result, error) {
	return s.build(write, c, false)
}

func (s *Store) build(write func(io.Writer) error, c Compression, hashFirst bool) (*Result, error) {
	if c == "" {
		c = Gzip
	}
	if _, err := c.writer(io.Discard); err != nil {
		return nil, err
	}
	var diffID v1.Hash
	var mapPath string
	if hashFirst {
		h := sha256.New()
		if err := write(h); err != nil {
			return nil, err
		}
		diffID = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
		mapPath = filepath.Join(s.Dir, "diffids", string(c), diffID.Hex)
		if data, err := os.ReadFile(mapPath); err == nil {
			if r, err := s.open(strings.TrimSpace(string(data)), diffID, c); err == nil {
				r.Cached = true
				return r, nil
			}
		}
	}

	blobs := filepath.Join(s.Dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(blobs, ".tmp-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	bh := sha256.New()
	cw := &countWriter{w: io.MultiWriter(tmp, bh)}
	zw, err := c.writer(cw)
	if err != nil {
		tmp.Close()
		return nil, err
	}
	h2 := sha256.New()
	if err := write(io.MultiWriter(zw, h2)); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := zw.Close(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if got := hex.EncodeToString(h2.Sum(nil)); !hashFirst {
		diffID = v1.Hash{Algorithm: "sha256", Hex: got}
		mapPath = filepath.Join(s.Dir, "diffids", string(c), diffID.Hex)
		if data, err := os.ReadFile(mapPath); err == nil {
			if r, err := s.open(strings.TrimSpace(string(data)), diffID, c); err == nil {
				r.Cached = true
				return r, nil
			}
		}
	} else if got != diffID.Hex {
		return nil, fmt.Errorf("layer: the files changed while the layer was written (diff id %s, then sha256:%s)", diffID, got)
	}
	digest := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(bh.Sum(nil))}
	if err := os.Rename(tmp.Name(), filepath.Join(blobs, digest.Hex)); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(mapPath), 0o755); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(mapPath, []byte(fmt.Sprintf("%s %d\n", digest, cw.n))); err != nil {
		return nil, err
	}
	return s.open(fmt.Sprintf("%s %d", digest, cw.n), diffID, c)
}

// open makes the layer of a stored blob from its mapping line.
func (s *Store) open(line string, diffID v1.Hash, c Compression) (*Result, error) {
	ds, sizeStr, ok := strings.Cut(line, " ")
	if !ok {
		return nil, fmt.Errorf("layer: bad store entry %q", line)
	}
	digest, err := v1.NewHash(ds)
	if err != nil {
		return nil, err
	}
	size, err := strconv.ParseInt(sizeStr, 10, 64)
	if err != nil {
		return nil, err
	}
	p := filepath.Join(s.Dir, "blobs", digest.Algorithm, digest.Hex)
	fi, err := os.Stat(p)
	if err != nil || fi.Size() != size {
		return nil, fmt.Errorf("layer: blob %s missing or damaged", digest)
	}
	l, err := partial.CompressedToLayer(&blobLayer{path: p, digest: digest, diffID: diffID, size: size, mt: c.MediaType()})
	if err != nil {
		return nil, err
	}
	return &Result{Layer: l, Digest: digest, DiffID: diffID, Size: size}, nil
}

// blobLayer is a compressed layer stored in a file whose digests are
// known, so nothing is read to describe it.
type blobLayer struct {
	path           string
	digest, diffID v1.Hash
	size           int64
	mt             types.MediaType
}

func (l *blobLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *blobLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *blobLayer) Size() (int64, error)                { return l.size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error) { return l.mt, nil }
func (l *blobLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func writeFileAtomic(p string, data []byte) error {
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

var _ hash.Hash = sha256.New()
