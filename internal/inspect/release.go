package inspect

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/release"
)

// inspectRelease reads a release folder (<root>/releases/<id>), or a
// release root's current release.
func inspectRelease(dir string) (*Report, error) {
	rep := &Report{Kind: KindRelease, Ref: dir, Source: "the release's receipt and SBOM"}
	relDir := dir
	if _, err := os.Lstat(filepath.Join(dir, receipt.FileName)); errors.Is(err, fs.ErrNotExist) {
		root, err := release.Open(dir)
		if err != nil {
			return nil, fmt.Errorf("inspect %s: %w", dir, err)
		}
		id, err := root.Current()
		if err != nil {
			return nil, fmt.Errorf("inspect %s: %w", dir, err)
		}
		if id == "" {
			return nil, fmt.Errorf("inspect %s: neither a release (no %s) nor a release root with a current release", dir, receipt.FileName)
		}
		relDir = root.Path(id)
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s is a release root: its current release is %s", dir, id))
	}
	data, err := readFileLimited(filepath.Join(relDir, receipt.FileName), maxReceipt)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", dir, err)
	}
	var rc receipt.Receipt
	if err := json.Unmarshal(data, &rc); err != nil {
		return nil, fmt.Errorf("inspect %s: %s: %w", dir, filepath.Join(relDir, receipt.FileName), err)
	}
	if rc.Schema != receipt.Schema || rc.Set == "" {
		return nil, fmt.Errorf("inspect %s: %s is not a pipbake receipt of schema %d", dir, filepath.Join(relDir, receipt.FileName), receipt.Schema)
	}
	s := setFromReceipt(rc, data)
	if abs, err := filepath.Abs(relDir); err == nil {
		s.Root = filepath.Dir(filepath.Dir(abs))
	}
	s.SBOMComponents = -1
	if sbom, err := readFileLimited(filepath.Join(relDir, receipt.SBOMName), maxReceipt); err == nil {
		s.SBOMComponents = sbomComponents(sbom)
	}
	rep.Release = rc.Release
	rep.Created = s.Created
	rep.LockSHA256 = rc.Lock.SHA256
	rep.ReceiptSHA256 = s.ReceiptSHA256
	rep.Sets = []Set{s}
	return rep, nil
}

// readFileLimited reads a regular file of at most limit bytes.
func readFileLimited(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, limit)
	}
	return data, nil
}
