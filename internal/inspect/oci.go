package inspect

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"path"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// Limits on what an image may make inspect read.
const (
	maxManifest     = 4 << 20  // an index or manifest
	maxConfig       = 16 << 20 // an image config
	maxReceipt      = 16 << 20 // a receipt or SBOM
	maxLayers       = 1000     // layers of one image
	maxLayer        = 8 << 30  // one compressed layer
	maxUncompressed = 32 << 30 // one layer, uncompressed
	maxEntries      = 4 << 20  // tar entries of one layer
	maxDepth        = 4        // nested indexes
)

// blobSource reads the blobs of one image, checked against their
// descriptors (size and digest).
type blobSource interface {
	// blob opens d's content; the reader fails when more than d.Size
	// bytes come or when the digest does not match at the end.
	blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error)
	// manifest is blob for an index or image manifest (a registry serves
	// them apart from blobs).
	manifest(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error)
}

// verifier checks a stream against a descriptor: no more than its size,
// and its sha256 at the end.
type verifier struct {
	r    io.Reader
	c    io.Closer
	h    hash.Hash
	want v1.Descriptor
	n    int64
}

func verified(rc io.ReadCloser, d v1.Descriptor) (io.ReadCloser, error) {
	if d.Digest.Algorithm != "sha256" || len(d.Digest.Hex) != 64 || strings.Trim(d.Digest.Hex, "0123456789abcdef") != "" {
		rc.Close()
		return nil, fmt.Errorf("digest %q: only sha256 digests are read", d.Digest)
	}
	return &verifier{r: io.LimitReader(rc, d.Size+1), c: rc, h: sha256.New(), want: d}, nil
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.n > v.want.Size {
		return n, fmt.Errorf("blob %s is larger than its descriptor's %d bytes", v.want.Digest, v.want.Size)
	}
	if err == io.EOF {
		if v.n != v.want.Size {
			return n, fmt.Errorf("blob %s: %d bytes, its descriptor says %d", v.want.Digest, v.n, v.want.Size)
		}
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want.Digest.Hex {
			return n, fmt.Errorf("blob %s does not match its digest (sha256:%s)", v.want.Digest, got)
		}
	}
	return n, err
}

func (v *verifier) Close() error { return v.c.Close() }

// readBlob reads a whole small blob.
func readBlob(ctx context.Context, src blobSource, d v1.Descriptor, limit int64, what string) ([]byte, error) {
	if d.Size < 0 || d.Size > limit {
		return nil, fmt.Errorf("%s %s: %d bytes, more than the %d inspect reads", what, d.Digest, d.Size, limit)
	}
	open := src.blob
	if what == "manifest" || what == "index" {
		open = src.manifest
	}
	rc, err := open(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, d.Digest, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, d.Digest, err)
	}
	return data, nil
}

// pickManifest chooses, in an index, the image for the platform: the only
// image, or the one whose platform matches.
func pickManifest(idx *v1.IndexManifest, want *v1.Platform, where string) (v1.Descriptor, error) {
	var images []v1.Descriptor
	for _, d := range idx.Manifests {
		if d.MediaType.IsImage() || d.MediaType.IsIndex() {
			images = append(images, d)
		}
	}
	switch {
	case len(images) == 0:
		return v1.Descriptor{}, fmt.Errorf("%s lists no image", where)
	case len(images) == 1 && want == nil:
		return images[0], nil
	}
	p := v1.Platform{OS: "linux", Architecture: "amd64"}
	if want != nil {
		p = *want
	}
	var have []string
	for _, d := range images {
		if d.Platform != nil && d.Platform.Satisfies(p) {
			return d, nil
		}
		if d.Platform != nil {
			have = append(have, d.Platform.String())
		}
	}
	if len(images) == 1 {
		return images[0], nil
	}
	return v1.Descriptor{}, fmt.Errorf("%s lists %d images and none for %s (it has %s); choose one with --platform or by digest", where, len(images), p, strings.Join(have, ", "))
}

// resolveIndex follows an index to one image manifest descriptor.
func resolveIndex(ctx context.Context, src blobSource, d v1.Descriptor, want *v1.Platform, where string) (v1.Descriptor, error) {
	for depth := 0; d.MediaType.IsIndex(); depth++ {
		if depth == maxDepth {
			return v1.Descriptor{}, fmt.Errorf("%s: indexes nest more than %d deep", where, maxDepth)
		}
		data, err := readBlob(ctx, src, d, maxManifest, "index")
		if err != nil {
			return v1.Descriptor{}, err
		}
		idx, err := v1.ParseIndexManifest(bytes.NewReader(data))
		if err != nil {
			return v1.Descriptor{}, fmt.Errorf("index %s: %w", d.Digest, err)
		}
		if d, err = pickManifest(idx, want, "index "+d.Digest.String()); err != nil {
			return v1.Descriptor{}, err
		}
	}
	if !d.MediaType.IsImage() {
		return v1.Descriptor{}, fmt.Errorf("%s: %s is a %q, not an image manifest", where, d.Digest, d.MediaType)
	}
	return d, nil
}

// setLayerPrefix starts the history entry the pipbake-oci builder writes
// for a set's layer: "pipbake-oci: set NAME (release ID, /ROOT)"
// (builder/oci/step_layers.go); every layer it makes starts with
// builderPrefix.
const (
	builderPrefix  = "pipbake-oci:"
	setLayerPrefix = "pipbake-oci: set "
)

// layerOfSet is a layer the builder made, and the set it holds ("" for
// the layer of everything else).
type builtLayer struct {
	desc          v1.Descriptor
	set, rel, dir string
}

// parseSetLayer reads "pipbake-oci: set NAME (release ID, /ROOT)".
func parseSetLayer(createdBy string) (set, rel, root string, ok bool) {
	rest, ok := strings.CutPrefix(createdBy, setLayerPrefix)
	if !ok {
		return "", "", "", false
	}
	set, info, _ := strings.Cut(rest, " (")
	info = strings.TrimSuffix(info, ")")
	if r, ok := strings.CutPrefix(info, "release "); ok {
		rel, root, _ = strings.Cut(r, ", ")
	}
	return set, rel, root, set != ""
}

// inspectImage reads the image a manifest descriptor names.
func inspectImage(ctx context.Context, src blobSource, md v1.Descriptor, rep *Report) error {
	data, err := readBlob(ctx, src, md, maxManifest, "manifest")
	if err != nil {
		return err
	}
	m, err := v1.ParseManifest(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("manifest %s: %w", md.Digest, err)
	}
	rep.Digest = md.Digest.String()
	if len(m.Layers) > maxLayers {
		return fmt.Errorf("manifest %s lists %d layers, more than the %d inspect reads", md.Digest, len(m.Layers), maxLayers)
	}
	cdata, err := readBlob(ctx, src, m.Config, maxConfig, "config")
	if err != nil {
		return err
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(cdata))
	if err != nil {
		return fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	tags := map[string]string{}
	for k, v := range cf.Config.Labels {
		tags[k] = v
	}
	for k, v := range m.Annotations { // annotations over labels, as the builder writes both
		if strings.HasPrefix(k, "pipbake:") {
			tags[k] = v
		}
	}
	applyTags(rep, tags)
	rep.Created = m.Annotations[ociimage.AnnotationCreated]
	if rep.Created == "" && !cf.Created.IsZero() {
		rep.Created = cf.Created.UTC().Format("2006-01-02T15:04:05Z")
	}
	if n, d := m.Annotations[ociimage.AnnotationBaseName], m.Annotations[ociimage.AnnotationBaseDigest]; n != "" || d != "" {
		rep.Base = &Base{Name: n, Digest: d}
	}

	// The layers the builder made, by their history entries (one per
	// non-empty layer, in order).
	var built []builtLayer
	var hist []v1.History
	for _, h := range cf.History {
		if !h.EmptyLayer {
			hist = append(hist, h)
		}
	}
	// The builder writes an entry for each layer it adds, at the end; a
	// base may have fewer entries than layers, so they are matched from
	// the end.
	offset := len(m.Layers) - len(hist)
	for i, h := range hist {
		if i+offset < 0 || !strings.HasPrefix(h.CreatedBy, builderPrefix) {
			continue
		}
		l := builtLayer{desc: m.Layers[i+offset]}
		if set, rel, root, ok := parseSetLayer(h.CreatedBy); ok {
			l.set, l.rel, l.dir = set, rel, root
		}
		built = append(built, l)
	}
	receipts, sboms, roots, err := readReceipts(ctx, src, built, rep)
	if err != nil {
		return err
	}
	rep.Source = "the image's labels and annotations"
	if len(receipts) > 0 {
		rep.Source = "the receipts and SBOMs in the image's pipbake layers, and its labels and annotations"
	}
	setsFromReceipts(rep, receipts, sboms, roots)
	return nil
}

// applyTags copies the tag schema's values into the report and lists the
// sets the tags name.
func applyTags(rep *Report, tags map[string]string) {
	r, _ := catalog.FromTags(tags)
	rep.Family, rep.Release, rep.SetsTag = r.Family, r.Release, r.Sets
	rep.LockSHA256, rep.ReceiptSHA256 = r.LockSHA256, r.ReceiptSHA256
	for _, sv := range catalog.ParseSets(r.Sets) {
		rep.Sets = append(rep.Sets, Set{Name: sv.Name, Version: sv.Version, Release: r.Release, SBOMComponents: -1})
	}
}

// receiptPath is where the builder's layers hold each set's receipt.
const receiptsDir = "var/lib/pipbake/receipts/"

// readReceipts reads the receipts and SBOMs from the builder's layers:
// each set's own layer first, then the others for sets still missing
// (an image built with one layer for everything).
func readReceipts(ctx context.Context, src blobSource, built []builtLayer, rep *Report) (map[string][]byte, map[string][]byte, map[string]string, error) {
	receipts, sboms, roots := map[string][]byte{}, map[string][]byte{}, map[string]string{}
	wanted := map[string]bool{}
	for _, s := range rep.Sets {
		wanted[s.Name] = true
	}
	var rest []builtLayer
	for _, l := range built {
		if l.set == "" {
			rest = append(rest, l)
			continue
		}
		wanted[l.set] = true
		if l.dir != "" {
			roots[l.set] = l.dir
		}
		if err := scanLayer(ctx, src, l.desc, func(set string) bool { return set == l.set }, receipts, sboms); err != nil {
			return nil, nil, nil, err
		}
	}
	missing := func(set string) bool { _, ok := receipts[set]; return wanted[set] && !ok }
	if slices.ContainsFunc(slices.Collect(mapKeys(wanted)), missing) {
		for _, l := range rest {
			if err := scanLayer(ctx, src, l.desc, missing, receipts, sboms); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	return receipts, sboms, roots, nil
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// scanLayer streams one layer (its digest checked at the end) and keeps
// the receipts and SBOMs of the sets want accepts. Only regular files at
// exactly var/lib/pipbake/receipts/<set>.json and .cdx.json are read;
// nothing is written anywhere.
func scanLayer(ctx context.Context, src blobSource, d v1.Descriptor, want func(set string) bool, receipts, sboms map[string][]byte) error {
	if d.Size < 0 || d.Size > maxLayer {
		return fmt.Errorf("layer %s: %d bytes, more than the %d inspect reads", d.Digest, d.Size, int64(maxLayer))
	}
	rc, err := src.blob(ctx, d)
	if err != nil {
		return fmt.Errorf("layer %s: %w", d.Digest, err)
	}
	defer rc.Close()
	var r io.Reader
	switch d.MediaType {
	case types.OCILayer, types.DockerLayer, types.OCIRestrictedLayer, types.DockerForeignLayer, types.DockerUncompressedLayer:
		if d.MediaType == types.DockerUncompressedLayer {
			r = rc
			break
		}
		gz, err := gzip.NewReader(rc)
		if err != nil {
			return fmt.Errorf("layer %s: %w", d.Digest, err)
		}
		defer gz.Close()
		r = gz
	case types.OCILayerZStd:
		zr, err := zstd.NewReader(rc, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return fmt.Errorf("layer %s: %w", d.Digest, err)
		}
		defer zr.Close()
		r = zr
	case types.OCIUncompressedLayer:
		r = rc
	default:
		return fmt.Errorf("layer %s has media type %q, which inspect does not read", d.Digest, d.MediaType)
	}
	tr := tar.NewReader(io.LimitReader(r, maxUncompressed))
	for n := 0; ; n++ {
		if n == maxEntries {
			return fmt.Errorf("layer %s has more than %d entries", d.Digest, maxEntries)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("layer %s: %w", d.Digest, err)
		}
		name := strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")
		rest, ok := strings.CutPrefix(name, receiptsDir)
		if !ok || h.Typeflag != tar.TypeReg || path.Clean(name) != name || strings.Contains(rest, "/") {
			continue
		}
		var set string
		var into map[string][]byte
		switch {
		case strings.HasSuffix(rest, ".cdx.json"):
			set, into = strings.TrimSuffix(rest, ".cdx.json"), sboms
		case strings.HasSuffix(rest, ".json"):
			set, into = strings.TrimSuffix(rest, ".json"), receipts
		default:
			continue
		}
		if set == "" || strings.HasPrefix(set, ".") || !want(set) {
			continue
		}
		if h.Size > maxReceipt {
			return fmt.Errorf("layer %s: %s is %d bytes, more than the %d inspect reads", d.Digest, name, h.Size, maxReceipt)
		}
		data, err := io.ReadAll(io.LimitReader(tr, maxReceipt))
		if err != nil {
			return fmt.Errorf("layer %s: %s: %w", d.Digest, name, err)
		}
		into[set] = data // a later layer's copy wins, as in the image's file system
	}
	// Drain to the end so the digest is checked.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return fmt.Errorf("layer %s: %w", d.Digest, err)
	}
	return nil
}

// setsFromReceipts fills the report's sets from the receipts found, and
// checks the tags against them.
func setsFromReceipts(rep *Report, receipts, sboms map[string][]byte, roots map[string]string) {
	if len(receipts) == 0 {
		if len(rep.Sets) > 0 {
			rep.Notes = append(rep.Notes, "no receipt found in the image's pipbake layers: the sets are the labels' only")
		}
		return
	}
	var parsed []ociimage.SetReceipt
	for _, set := range slices.Sorted(func(yield func(string) bool) {
		for k := range receipts {
			if !yield(k) {
				return
			}
		}
	}) {
		sr, err := ociimage.ParseReceipt(receipts[set])
		if err != nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s%s.json: not a receipt: %v", receiptsDir, set, err))
			continue
		}
		if sr.Receipt.Set != set {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s%s.json is the receipt of set %q", receiptsDir, set, sr.Receipt.Set))
		}
		parsed = append(parsed, sr)
		s := setFromReceipt(sr.Receipt, receipts[set])
		s.Root = roots[set]
		s.SBOMComponents = sbomComponents(sboms[set])
		i := slices.IndexFunc(rep.Sets, func(x Set) bool { return x.Name == s.Name })
		if i < 0 {
			rep.Sets = append(rep.Sets, s)
			continue
		}
		s.Version = rep.Sets[i].Version
		rep.Sets[i] = s
	}
	for _, s := range rep.Sets {
		if s.Lock == nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("set %s: named by the labels, but its receipt is not in the image", s.Name))
		}
	}
	if rep.Family == "" || len(parsed) == 0 {
		return
	}
	labels, err := ociimage.Labels(rep.Family, rep.Release, parsed)
	if err != nil {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the receipts do not make a release: %v", err))
		f := false
		rep.Consistent = &f
		return
	}
	ok := true
	for _, k := range []struct{ key, have string }{
		{catalog.TagSets, rep.SetsTag}, {catalog.TagLockSHA256, rep.LockSHA256}, {catalog.TagReceiptSHA256, rep.ReceiptSHA256},
	} {
		if labels[k.key] != k.have {
			ok = false
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s is %q, but the receipts in the image give %q", k.key, k.have, labels[k.key]))
		}
	}
	rep.Consistent = &ok
	for i := range rep.Sets { // the sets' versions as the tags give them
		if rep.Sets[i].Version == "" {
			for _, sv := range catalog.ParseSets(labels[catalog.TagSets]) {
				if sv.Name == rep.Sets[i].Name {
					rep.Sets[i].Version = sv.Version
				}
			}
		}
	}
}

// setFromReceipt describes a set from its receipt file.
func setFromReceipt(rc receipt.Receipt, data []byte) Set {
	sum := sha256.Sum256(data)
	s := Set{
		Name: rc.Set, Release: rc.Release, Pipbake: rc.Pipbake, Installer: rc.Installer,
		Ecosystem: rc.Ecosystem, Platform: rc.Interpreter.Platform,
		Lock:          &Lock{Path: rc.Lock.Path, SHA256: rc.Lock.SHA256, Format: rc.Lock.Format},
		ReceiptSHA256: hex.EncodeToString(sum[:]),
	}
	if rc.Ecosystem == receipt.EcosystemNode {
		s.Node = rc.Interpreter.Version
	} else {
		s.Python = rc.Interpreter.Version
	}
	if !rc.Created.IsZero() {
		s.Created = rc.Created.UTC().Format("2006-01-02T15:04:05Z")
	}
	for _, d := range rc.Distributions {
		s.Distributions = append(s.Distributions, Distribution{Name: d.Name, Version: d.Version, Wheel: d.Wheel, SHA256: d.SHA256})
	}
	return s
}

// sbomComponents counts a CycloneDX SBOM's components (-1 for none or
// one that does not parse).
func sbomComponents(data []byte) int {
	if data == nil {
		return -1
	}
	var bom struct {
		BOMFormat  string            `json:"bomFormat"`
		Components []json.RawMessage `json:"components"`
	}
	if err := json.Unmarshal(data, &bom); err != nil || bom.BOMFormat != "CycloneDX" {
		return -1
	}
	return len(bom.Components)
}
