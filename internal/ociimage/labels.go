package ociimage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// Label keys of pipbake's image tag schema (the same literal keys as the
// catalog's AMI tags and OCI labels).
const (
	LabelFamily        = "pipbake:family"
	LabelRelease       = "pipbake:release"
	LabelSets          = "pipbake:sets"
	LabelReceiptSHA256 = "pipbake:receipt-sha256"
	LabelLockSHA256    = "pipbake:lock-sha256"
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

// Labels returns the schema's labels for one bake: family, the release
// (the receipts' release, or release when given), the sets as
// "name@version" (the version of the distribution named like the set,
// else the release) sorted by name, and the sha256 of the lock and of the
// receipt file (for several sets: of the "<sha256>  <set>" and
// "<sha256>  <set>.json" lines in set order).
func Labels(family, release string, sets []SetReceipt) (map[string]string, error) {
	if len(sets) == 0 {
		return nil, fmt.Errorf("no receipts")
	}
	s := append([]SetReceipt(nil), sets...)
	sort.Slice(s, func(i, j int) bool { return s[i].Receipt.Set < s[j].Receipt.Set })
	var parts []string
	var locks, receipts strings.Builder
	for _, r := range s {
		rc := r.Receipt
		if release == "" {
			release = rc.Release
		} else if rc.Release != release && len(parts) > 0 {
			return nil, fmt.Errorf("receipts disagree on the release (%q, %q)", release, rc.Release)
		}
		parts = append(parts, rc.Set+"@"+setVersion(rc))
		sum := sha256.Sum256(r.Data)
		fmt.Fprintf(&locks, "%s  %s\n", rc.Lock.SHA256, rc.Set)
		fmt.Fprintf(&receipts, "%s  %s.json\n", hex.EncodeToString(sum[:]), rc.Set)
	}
	out := map[string]string{LabelRelease: release, LabelSets: strings.Join(parts, ",")}
	if family != "" {
		out[LabelFamily] = family
	}
	if len(s) == 1 {
		sum := sha256.Sum256(s[0].Data)
		out[LabelLockSHA256] = s[0].Receipt.Lock.SHA256
		out[LabelReceiptSHA256] = hex.EncodeToString(sum[:])
	} else {
		out[LabelLockSHA256] = sha256Hex(locks.String())
		out[LabelReceiptSHA256] = sha256Hex(receipts.String())
	}
	return out, nil
}

func setVersion(rc receipt.Receipt) string {
	want := pyname.Normalize(rc.Set)
	for _, d := range rc.Distributions {
		if pyname.Normalize(d.Name) == want {
			return d.Version
		}
	}
	return rc.Release
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
