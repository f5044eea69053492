package rootfs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/progress"
)

// Cache keeps unpacked layers on disk by digest:
//
//	DIR/overlay/<hex of the layer's diff id>/   one layer, overlayfs format
//	DIR/flat/<hex of the chain id>/             a stack of layers applied in order
//
// An entry appears whole (it is unpacked beside it and renamed into place)
// or not at all, so an interrupted unpack leaves nothing to trip over.
type Cache struct {
	Dir string
	// Progress, when set, gets the progress of unpacking (entries, bytes,
	// rate): a line redrawn on a terminal, a line now and then elsewhere
	// (internal/progress), nothing for an unpack within a second.
	Progress io.Writer
}

// Opener opens a layer's uncompressed tar stream.
type Opener func() (io.ReadCloser, error)

// Layer returns the directory of the layer diffID ("sha256:...") in
// overlay format, unpacking it first when it is not cached; hit reports
// whether it was.
func (c *Cache) Layer(diffID string, open Opener) (dir string, hit bool, err error) {
	hex, err := digestHex(diffID)
	if err != nil {
		return "", false, err
	}
	dir = filepath.Join(c.Dir, "overlay", hex)
	if _, err := os.Stat(dir); err == nil {
		return dir, true, nil
	}
	err = c.fill(dir, func(tmp string) error {
		rc, err := open()
		if err != nil {
			return err
		}
		defer rc.Close()
		meter := progress.Start(c.Progress, "unpack layer "+short(hex), progress.Unit("files"))
		defer meter.Stop()
		_, err = Unpack(tmp, rc, Options{Format: Overlay, Meter: meter})
		return err
	})
	return dir, false, err
}

// Chain returns a directory holding the layers diffIDs applied in order
// onto an empty tree (Flat), building it from the longest cached prefix.
func (c *Cache) Chain(diffIDs []string, open func(i int) (io.ReadCloser, error)) (dir string, hit bool, err error) {
	if len(diffIDs) == 0 {
		return "", false, errors.New("rootfs: no layers")
	}
	ids := ChainIDs(diffIDs)
	dir = filepath.Join(c.Dir, "flat", ids[len(ids)-1])
	if _, err := os.Stat(dir); err == nil {
		return dir, true, nil
	}
	start, from := 0, ""
	for i := len(ids) - 2; i >= 0; i-- {
		p := filepath.Join(c.Dir, "flat", ids[i])
		if _, err := os.Stat(p); err == nil {
			start, from = i+1, p
			break
		}
	}
	err = c.fill(dir, func(tmp string) error {
		meter := progress.Start(c.Progress, "unpack the base", progress.Unit("files"))
		defer meter.Stop()
		if from != "" {
			meter.Status("copying the cached layers below")
			if err := CopyTree(tmp, from); err != nil {
				return err
			}
		}
		for i := start; i < len(diffIDs); i++ {
			rc, err := open(i)
			if err != nil {
				return err
			}
			meter.Status(fmt.Sprintf("layer %d/%d", i+1, len(diffIDs)))
			_, err = Unpack(tmp, rc, Options{Format: Flat, Meter: meter})
			rc.Close()
			if err != nil {
				return fmt.Errorf("layer %s: %w", diffIDs[i], err)
			}
		}
		return nil
	})
	return dir, false, err
}

// fill builds dir through a temporary directory beside it.
func (c *Cache) fill(dir string, build func(tmp string) error) error {
	tmpRoot := filepath.Join(c.Dir, "tmp")
	if err := os.MkdirAll(tmpRoot, 0o700); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(tmpRoot, "unpack-")
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := build(tmp); err != nil {
		removeAll(tmp)
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		removeAll(tmp)
		if _, serr := os.Stat(dir); serr == nil {
			return nil // another build got there first
		}
		return err
	}
	return nil
}

// ChainIDs returns the OCI chain ids (hex) of a stack of diff ids:
// chain(1) = diff(1), chain(n) = sha256(chain(n-1) + " " + diff(n)).
func ChainIDs(diffIDs []string) []string {
	out := make([]string, len(diffIDs))
	prev := ""
	for i, d := range diffIDs {
		if i == 0 {
			prev = d
		} else {
			sum := sha256.Sum256([]byte(prev + " " + d))
			prev = "sha256:" + hex.EncodeToString(sum[:])
		}
		out[i] = strings.TrimPrefix(prev, "sha256:")
	}
	return out
}

// short is the first 12 hex digits of a digest, for messages.
func short(hex string) string { return hex[:min(len(hex), 12)] }

func digestHex(d string) (string, error) {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(h) != 64 {
		return "", fmt.Errorf("rootfs: %q is not a sha256 digest", d)
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", fmt.Errorf("rootfs: %q is not a sha256 digest", d)
	}
	return h, nil
}
