package ociattest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/rootfs"
)

// Problem kinds beyond receipt's (missing, modified, unexpected).
const (
	// Unattested: no attestation of the kind needed verifies with the key.
	Unattested = "unattested"
)

// Report is what Verify found.
type Report struct {
	// Image is repository@digest.
	Image  string `json:"image"`
	Source string `json:"source"`
	// Verified counts the attestations whose signature verified and whose
	// subject is the image; Ignored those that did not.
	Verified int               `json:"verified"`
	Ignored  []string          `json:"ignored,omitempty"`
	Sets     []SetReport       `json:"sets"`
	Problems []receipt.Problem `json:"problems"`
}

// SetReport is one set's layer checked against the attestations.
type SetReport struct {
	Set      string            `json:"set"`
	Release  string            `json:"release"`
	Root     string            `json:"root"`
	Layer    string            `json:"layer"`
	Checked  int               `json:"checked"`
	Problems []receipt.Problem `json:"problems"`
}

// Clean reports whether nothing is wrong.
func (r *Report) Clean() bool {
	if len(r.Problems) > 0 {
		return false
	}
	for _, s := range r.Sets {
		if len(s.Problems) > 0 {
			return false
		}
	}
	return true
}

func (r *Report) add(p, kind, format string, args ...any) {
	r.Problems = append(r.Problems, receipt.Problem{Path: p, Kind: kind, Detail: fmt.Sprintf(format, args...)})
}

// Verify checks the image ref against its attestations and pub: at least
// one provenance statement about the image's digest signed with pub; for
// each set it names, an SBOM statement signed with pub; and each set's
// layer: its bytes against its digest, the receipt and SBOM in it against
// the digests the provenance records and the SBOM statement, and every
// file of the release against the receipt (receipt.Verify). What is wrong
// is in the report; an error means the check could not be made.
func Verify(ctx context.Context, ref name.Reference, pub *ecdsa.PublicKey, opts ...remote.Option) (*Report, error) {
	opts = append(append([]remote.Option(nil), opts...), remote.WithContext(ctx))
	img, err := remote.Image(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("read the image %s: %w", ref, err)
	}
	dg, err := img.Digest()
	if err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("read the manifest of %s: %w", ref, err)
	}
	subject := ref.Context().Digest(dg.String())
	rep := &Report{Image: subject.String(), Sets: []SetReport{}, Problems: []receipt.Problem{}}
	found, err := Fetch(ctx, subject, opts...)
	if err != nil {
		return nil, err
	}
	rep.Source = found.Source
	var provs []*attest.Provenance
	sboms := map[string][]byte{} // sha256 of the compact SBOM -> predicate
	for i, a := range found.Attestations {
		st, why := open(a, pub, dg.Hex)
		if st == nil {
			rep.Ignored = append(rep.Ignored, fmt.Sprintf("attestation %d (%s): %s", i+1, a.PredicateType, why))
			continue
		}
		rep.Verified++
		switch st.PredicateType {
		case attest.PredicateSLSA:
			p, err := attest.ParseProvenance(st.Predicate)
			if err != nil {
				rep.Ignored = append(rep.Ignored, fmt.Sprintf("attestation %d: %v", i+1, err))
				continue
			}
			provs = append(provs, p)
		case attest.PredicateSBOM:
			sboms[attest.SHA256Hex(st.Predicate)] = st.Predicate
		}
	}
	if len(found.Attestations) == 0 {
		rep.add(".", Unattested, "no attestation refers to %s (neither referrers nor %s)", dg, AttTag(subject).TagStr())
		return rep, nil
	}
	if len(provs) == 0 {
		rep.add(".", Unattested, "no provenance attestation of %s verifies with the key", dg)
		return rep, nil
	}
	// Several verified provenances of one digest describe the same layers;
	// the first (by digest order of the referrers) is checked.
	prov := provs[0]
	layers := map[string]v1.Descriptor{}
	for _, l := range m.Layers {
		layers[l.Digest.String()] = l
	}
	for _, s := range prov.Sets() {
		sr := SetReport{Set: s.Name, Release: s.Release, Root: s.Root, Layer: s.Layer, Problems: []receipt.Problem{}}
		checkSet(ctx, subject.Context(), s, layers, sboms, &sr, opts)
		rep.Sets = append(rep.Sets, sr)
	}
	return rep, nil
}

// open verifies an attestation's envelope with pub and that its statement
// is about the digest; nil and why not otherwise.
func open(a Attestation, pub *ecdsa.PublicKey, digestHex string) (*attest.Statement, string) {
	env, _, err := attest.ParseEnvelope(a.Envelope)
	if err != nil {
		return nil, err.Error()
	}
	if env.PayloadType != attest.PayloadType {
		return nil, fmt.Sprintf("payload type %q is not in-toto's", env.PayloadType)
	}
	payload, err := env.Verify(pub)
	if err != nil {
		return nil, err.Error()
	}
	st, err := attest.ParseStatement(payload)
	if err != nil {
		return nil, err.Error()
	}
	if !st.HasSubject(digestHex) {
		return nil, "its subject is another image"
	}
	return st, ""
}

func (sr *SetReport) add(p, kind, format string, args ...any) {
	sr.Problems = append(sr.Problems, receipt.Problem{Path: p, Kind: kind, Detail: fmt.Sprintf(format, args...)})
}

func checkSet(ctx context.Context, repo name.Repository, s attest.SetDigests, layers map[string]v1.Descriptor, sboms map[string][]byte, sr *SetReport, opts []remote.Option) {
	if s.Root == "" || !strings.HasPrefix(s.Root, "/") || s.Layer == "" {
		sr.add(".", Unattested, "the provenance names no root or layer for set %s", s.Name)
		return
	}
	desc, ok := layers[s.Layer]
	if !ok {
		sr.add(".", receipt.Missing, "the image has no layer %s, which the provenance gives set %s", s.Layer, s.Name)
		return
	}
	tmp, err := os.MkdirTemp("", "pipbake-verify-")
	if err != nil {
		sr.add(".", receipt.Missing, "%v", err)
		return
	}
	defer os.RemoveAll(tmp)
	blob := filepath.Join(tmp, "layer")
	if why, err := download(repo, desc, blob, opts); err != nil {
		sr.add(".", receipt.Missing, "download layer %s: %v", s.Layer, err)
		return
	} else if why != "" {
		sr.add(".", receipt.Modified, "layer %s: %s", s.Layer, why)
		return
	}
	l, err := tarball.LayerFromFile(blob)
	if err != nil {
		sr.add(".", receipt.Modified, "layer %s: %v", s.Layer, err)
		return
	}
	rc, err := l.Uncompressed()
	if err != nil {
		sr.add(".", receipt.Modified, "layer %s: %v", s.Layer, err)
		return
	}
	tree := filepath.Join(tmp, "tree")
	os.Mkdir(tree, 0o755)
	_, err = rootfs.Unpack(tree, rc, rootfs.Options{NoOwners: true})
	rc.Close()
	if err != nil {
		sr.add(".", receipt.Modified, "unpack layer %s: %v", s.Layer, err)
		return
	}
	rel := path.Join(s.Root, "releases", s.Release)
	dir, err := realDir(tree, rel)
	if err != nil {
		sr.add(rel, receipt.Missing, "set %s's layer has no release folder %s: %v", s.Name, rel, err)
		return
	}
	data, err := os.ReadFile(filepath.Join(dir, receipt.FileName))
	if err != nil {
		sr.add(receipt.FileName, receipt.Missing, "%v", err)
		return
	}
	if got := attest.SHA256Hex(data); got != s.Receipt {
		sr.add(receipt.FileName, receipt.Modified, "sha256 %s, the provenance records %s", got, s.Receipt)
	}
	sbom, err := os.ReadFile(filepath.Join(dir, receipt.SBOMName))
	if err != nil {
		sr.add(receipt.SBOMName, receipt.Missing, "%v", err)
	} else {
		if got := attest.SHA256Hex(sbom); got != s.SBOM {
			sr.add(receipt.SBOMName, receipt.Modified, "sha256 %s, the provenance records %s", got, s.SBOM)
		}
		var c bytes.Buffer
		if json.Compact(&c, sbom) != nil {
			sr.add(receipt.SBOMName, receipt.Modified, "the SBOM is not JSON")
		} else if _, ok := sboms[attest.SHA256Hex(c.Bytes())]; !ok {
			sr.add(receipt.SBOMName, Unattested, "no SBOM attestation verified with the key holds this SBOM")
		}
	}
	vr, err := receipt.Verify(dir, receipt.Options{ReceiptSHA256: s.Receipt})
	if err != nil {
		sr.add(".", receipt.Modified, "verify the release: %v", err)
		return
	}
	sr.Checked = vr.Checked
	sr.Problems = append(sr.Problems, vr.Problems...)
	sort.SliceStable(sr.Problems, func(i, j int) bool { return sr.Problems[i].Path < sr.Problems[j].Path })
}

// download writes the blob of desc to file, returning why its bytes are
// not the ones its descriptor names ("" when they are).
func download(repo name.Repository, desc v1.Descriptor, file string, opts []remote.Option) (string, error) {
	if desc.Digest.Algorithm != "sha256" {
		return "", fmt.Errorf("digest algorithm %s", desc.Digest.Algorithm)
	}
	// A raw blob read: go-containerregistry's layer readers would check
	// the digest themselves, but report a mismatch as an error like any
	// other; here it is drift.
	l, err := remote.Layer(repo.Digest(desc.Digest.String()), opts...)
	if err != nil {
		return "", err
	}
	rc, err := l.Compressed()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	f, err := os.Create(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(rc, desc.Size+1))
	if err != nil && !isDigestError(err) {
		return "", err
	}
	got := hex.EncodeToString(h.Sum(nil))
	switch {
	case n != desc.Size:
		return fmt.Sprintf("%d bytes, the manifest says %d", n, desc.Size), nil
	case got != desc.Digest.Hex:
		return fmt.Sprintf("its bytes have sha256 %s: not the layer the manifest names (same size, other content)", got), nil
	}
	return "", f.Close()
}

func isDigestError(err error) bool {
	// go-containerregistry's verifying reader fails the last read on a
	// mismatch; the bytes are hashed here all the same.
	return err != nil && (strings.Contains(err.Error(), "error verifying") || strings.Contains(err.Error(), "digest mismatch"))
}

// realDir resolves rel under root, refusing any component that is not a
// real directory (a symlink could lead out of root).
func realDir(root, rel string) (string, error) {
	p := root
	for _, part := range strings.Split(strings.Trim(rel, "/"), "/") {
		if part == "" || part == "." || part == ".." {
			return "", fmt.Errorf("bad path %q", rel)
		}
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		if err != nil {
			return "", err
		}
		if !fi.IsDir() {
			return "", errors.New(p[len(root):] + " is not a folder")
		}
	}
	return p, nil
}
