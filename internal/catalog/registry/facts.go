package registry

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
)

// receiptsDir is where the agent keeps every set's receipt in an image
// (ociimage.ReceiptsDir, without the leading slash).
const receiptsDir = "var/lib/pipbake/receipts"

// Limits on what an image's layers may hold for a diff.
const (
	maxReceiptBytes = 16 << 20
	maxReceipts     = 1024
)

// Facts reads what an image of the repository says of itself, for a diff:
// its labels and annotations (as Images reads them), and the receipts in
// its layers, used when their sha256 is its pipbake:receipt-sha256. ref is
// a tag or a digest (sha256:...); for an index, its first image's layers
// are read.
func (c *Catalog) Facts(ctx context.Context, ref string) (catalog.Facts, error) {
	var r name.Reference = c.Repo.Tag(ref)
	if strings.HasPrefix(ref, "sha256:") {
		r = c.Repo.Digest(ref)
	}
	desc, err := remote.Get(r, c.opts(ctx)...)
	if err != nil {
		return catalog.Facts{}, fmt.Errorf("read %s: %w", r, err)
	}
	im, err := c.describe(desc)
	if err != nil {
		return catalog.Facts{}, fmt.Errorf("read %s: %w", r, err)
	}
	img, err := firstImage(desc)
	if err != nil {
		return catalog.Facts{}, fmt.Errorf("read %s: %w", r, err)
	}
	label := im.Label()
	files, err := imageReceipts(img, label)
	if err != nil {
		return catalog.Facts{}, fmt.Errorf("read the receipts in %s: %w", r, err)
	}
	if !im.IsRelease {
		if len(files) == 0 {
			return catalog.Facts{Label: label, Notes: []string{"not a pipbake release: no pipbake labels or annotations, and no receipts in its layers"}}, nil
		}
		return catalog.FactsFromReceipts(label, "", files)
	}
	f := catalog.FactsFromTags(label, im.Release)
	if len(files) == 0 {
		f.Notes = append(f.Notes, "no receipts in its layers (/"+receiptsDir+")")
		return f, nil
	}
	return f.WithReceipts("in its layers", files), nil
}

func firstImage(desc *remote.Descriptor) (v1.Image, error) {
	if !desc.MediaType.IsIndex() {
		return desc.Image()
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, child := range m.Manifests {
		if child.MediaType.IsImage() {
			return idx.Image(child.Digest)
		}
	}
	return nil, errors.New("the index holds no image")
}

// imageReceipts reads the <set>.json receipts in the image's receipts
// folder as a runtime would see them: layers from the top, a file in an
// upper layer over the same file below, whiteouts (.wh.<name>, and the
// opaque .wh..wh..opq) hiding what is below.
func imageReceipts(img v1.Image, label string) ([]catalog.ReceiptFile, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	found := map[string][]byte{}
	hidden := map[string]bool{}
	opaque := false
	for i := len(layers) - 1; i >= 0 && !opaque; i-- {
		rc, err := layers[i].Uncompressed()
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		whiteouts, layerOpaque, err := readReceiptsLayer(rc, found, hidden)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		for _, w := range whiteouts {
			hidden[w] = true
		}
		opaque = layerOpaque
	}
	names := make([]string, 0, len(found))
	for n := range found {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []catalog.ReceiptFile
	for _, n := range names {
		rf, err := catalog.ParseReceiptFile(label+":/"+receiptsDir+"/"+n, found[n])
		if err != nil {
			return nil, err
		}
		out = append(out, rf)
	}
	return out, nil
}

// readReceiptsLayer adds the layer's receipts that nothing above hides to
// found, and returns the layer's whiteouts in the receipts folder.
func readReceiptsLayer(r io.Reader, found map[string][]byte, hidden map[string]bool) (whiteouts []string, opaque bool, err error) {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return whiteouts, opaque, nil
		}
		if err != nil {
			return nil, false, err
		}
		dir, base := path.Split(path.Clean("/" + hdr.Name))
		if dir != "/"+receiptsDir+"/" {
			continue
		}
		switch {
		case base == ".wh..wh..opq":
			opaque = true
			continue
		case strings.HasPrefix(base, ".wh."):
			whiteouts = append(whiteouts, strings.TrimPrefix(base, ".wh."))
			continue
		case !strings.HasSuffix(base, ".json") || strings.HasSuffix(base, ".cdx.json") || strings.HasPrefix(base, "."):
			continue
		case hdr.Typeflag != tar.TypeReg || hidden[base]:
			continue
		}
		if _, ok := found[base]; ok {
			continue // an upper layer's copy wins
		}
		if hdr.Size > maxReceiptBytes {
			return nil, false, fmt.Errorf("receipt %s is %d bytes, more than %d", base, hdr.Size, maxReceiptBytes)
		}
		if len(found) >= maxReceipts {
			return nil, false, fmt.Errorf("more than %d receipts", maxReceipts)
		}
		data, err := io.ReadAll(io.LimitReader(tr, maxReceiptBytes+1))
		if err != nil {
			return nil, false, err
		}
		found[base] = data
	}
}

// ReleaseFacts are the facts of a release of the repository (an id of
// family, or of its only family; or a digest).
func (c *Catalog) ReleaseFacts(ctx context.Context, rel, family string) (catalog.Facts, error) {
	im, err := c.findRelease(ctx, "diff", rel, family)
	if err != nil {
		return catalog.Facts{}, err
	}
	return c.Facts(ctx, im.Digest)
}
