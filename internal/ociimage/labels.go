package ociimage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// Label keys of pipbake's image tag schema: the catalog's (the same keys
// as its AMI tags and OCI annotations).
const (
	LabelFamily        = catalog.TagFamily
	LabelRelease       = catalog.TagRelease
	LabelSets          = catalog.TagSets
	LabelReceiptSHA256 = catalog.TagReceiptSHA256
	LabelLockSHA256    = catalog.TagLockSHA256
)

// ReceiptsDir is where the agent keeps every set's receipt (<set>.json)
// and SBOM (<set>.cdx.json) inside the image.
const ReceiptsDir = "/var/lib/pipbake/receipts"

// SetReceipt is one set's receipt file as found in the image.
type SetReceipt struct {
	Data    []byte
	Receipt receipt.Receipt
}

// ParseReceipt reads a <set>.json receipt.
func ParseReceipt(data []byte) (SetReceipt, error) {
	var rc receipt.Receipt
	if err := json.Unmarshal(data, &rc); err != nil {
		return SetReceipt{}, err
	}
	if rc.Set == "" || rc.Release == "" {
		return SetReceipt{}, fmt.Errorf("receipt names no set or release")
	}
	return SetReceipt{Data: data, Receipt: rc}, nil
}

// Labels returns the schema's labels for one bake of family from the
// receipts in the image: the tags catalog.FromReceipts makes of them (the
// release, the receipts' unless release is given; the sets as
// "name@version", cut to fit a tag value; the sha256 of the locks and of
// the receipt files), so an image's labels and annotations say what an
// AMI's tags would.
func Labels(family, release string, sets []SetReceipt) (map[string]string, error) {
	files := make([]catalog.ReceiptFile, len(sets))
	for i, s := range sets {
		sum := sha256.Sum256(s.Data)
		files[i] = catalog.ReceiptFile{
			Path:    path.Join(ReceiptsDir, s.Receipt.Set+".json"),
			SHA256:  hex.EncodeToString(sum[:]),
			Receipt: s.Receipt,
		}
	}
	r, err := catalog.FromReceipts(family, release, files)
	if err != nil {
		return nil, fmt.Errorf("pipbake labels of %d receipt(s): %w", len(sets), err)
	}
	return r.Tags(), nil
}
