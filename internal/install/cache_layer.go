package install

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/pipbake/packer-plugin-pipbake/internal/rootfs"
)

// A release cache entry can also be an image layer that holds the release
// (what the OCI builder stores: the set's layer blob, hard-linked, so
// storing costs nothing): DIR/<key>.layer is the compressed layer tar and
// DIR/<key>.layer.json says where the release is in it.
const LayerEntrySuffix = ".layer"

// LayerEntry describes a release stored as part of a layer.
type LayerEntry struct {
	// Prefix is the release folder's path in the tar ("opt/api/releases/1").
	Prefix string `json:"prefix"`
	// Compression is "gzip" or "zstd".
	Compression string `json:"compression"`
	// Digest is the blob's digest, for reference.
	Digest string `json:"digest,omitempty"`

	path string
}

// StoreLayerEntry records the layer blob (a file on the same file system,
// hard-linked, else copied) as holding the release under prefix.
func StoreLayerEntry(cacheDir string, key CacheKey, blob string, le LayerEntry) error {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return err
	}
	base := filepath.Join(cacheDir, key.String()+LayerEntrySuffix)
	if _, err := os.Stat(base + ".json"); err == nil {
		return nil
	}
	tmp := base + ".tmp"
	os.Remove(tmp)
	if err := os.Link(blob, tmp); err != nil {
		if err := copyPlain(tmp, blob); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, base); err != nil {
		os.Remove(tmp)
		return err
	}
	data, err := json.Marshal(le)
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".json.tmp", data, 0o644); err != nil {
		return err
	}
	return os.Rename(base+".json.tmp", base+".json")
}

// HasEntry reports whether the cache holds key in either form.
func HasEntry(cacheDir string, key CacheKey) bool {
	if _, err := os.Stat(filepath.Join(cacheDir, key.String())); err == nil {
		return true
	}
	_, err := os.Stat(filepath.Join(cacheDir, key.String()+LayerEntrySuffix+".json"))
	return err == nil
}

func readLayerEntry(cacheDir, key string) (*LayerEntry, error) {
	base := filepath.Join(cacheDir, key+LayerEntrySuffix)
	data, err := os.ReadFile(base + ".json")
	if err != nil {
		return nil, err
	}
	var le LayerEntry
	if err := json.Unmarshal(data, &le); err != nil {
		return nil, err
	}
	if le.Prefix == "" {
		return nil, errors.New("layer entry without a prefix")
	}
	le.path = base
	return &le, nil
}

// extract writes the release's entries of the layer into dir.
func (le *LayerEntry) extract(dir string) error {
	f, err := os.Open(le.path)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader
	switch le.Compression {
	case "gzip", "":
		zr, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(f)
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	default:
		return fmt.Errorf("compression %q", le.Compression)
	}
	prefix := strings.Trim(le.Prefix, "/") + "/"
	// Keep only the release's own entries, renamed to be relative to dir,
	// and unpack them as a layer would be (owners, modes, links, times).
	pr, pw := io.Pipe()
	go func() {
		tr := tar.NewReader(r)
		tw := tar.NewWriter(pw)
		n := 0
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			name := strings.TrimPrefix(path.Clean(h.Name), "./")
			if h.Typeflag == tar.TypeDir {
				name += "/"
			}
			rel, ok := strings.CutPrefix(name, prefix)
			if !ok || rel == "" {
				continue
			}
			h.Name = rel
			if h.Typeflag == tar.TypeLink {
				lrel, ok := strings.CutPrefix(strings.TrimPrefix(path.Clean(h.Linkname), "./"), prefix)
				if !ok {
					pw.CloseWithError(fmt.Errorf("hard link %s leaves the release", h.Name))
					return
				}
				h.Linkname = lrel
			}
			if err := tw.WriteHeader(h); err != nil {
				pw.CloseWithError(err)
				return
			}
			if _, err := io.Copy(tw, tr); err != nil {
				pw.CloseWithError(err)
				return
			}
			n++
		}
		if n == 0 {
			pw.CloseWithError(fmt.Errorf("the layer holds nothing under %s", prefix))
			return
		}
		pw.CloseWithError(tw.Close())
	}()
	_, err = rootfs.Unpack(dir, pr, rootfs.Options{})
	pr.CloseWithError(err)
	return err
}

func copyPlain(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return createFrom(dst, in)
}

// createFrom creates (or truncates) dst with what src writes.
func createFrom(dst string, src io.WriterTo) error {
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := src.WriteTo(out); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
