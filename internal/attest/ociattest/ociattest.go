// Package ociattest attaches pipbake's attestations (DSSE envelopes of
// in-toto statements, internal/attest) to an image in a registry or an
// OCI layout, and reads them back.
//
// Each attestation is pushed twice over:
//   - as an OCI 1.1 referrer of the image: an artifact manifest whose
//     subject is the image, of artifactType ArtifactTypeSBOM or
//     ArtifactTypeSLSA, with the envelope as its one layer. Registries
//     without the referrers API list it under the fallback tag
//     sha256-<digest> (an index go-containerregistry keeps up to date), so
//     `oras discover` finds it either way;
//   - in cosign's attestation tag, sha256-<digest>.att: an image whose
//     layers are the envelopes (media type application/vnd.dsse.envelope.v1+json,
//     an empty dev.cosignproject.cosign/signature annotation), which
//     `cosign verify-attestation --key` reads.
package ociattest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
)

// Media and artifact types.
const (
	// ArtifactTypeSBOM and ArtifactTypeSLSA are the referrers' artifact
	// types, by predicate.
	ArtifactTypeSBOM = "application/vnd.in-toto.cyclonedx+dsse"
	ArtifactTypeSLSA = "application/vnd.in-toto.provenance+dsse"
	// EnvelopeMediaType is a DSSE envelope layer's media type.
	EnvelopeMediaType = "application/vnd.dsse.envelope.v1+json"
	// AnnotationPredicateType names an envelope's predicate type.
	AnnotationPredicateType = "in-toto.io/predicate-type"
	// AttSuffix ends cosign's attestation tag.
	AttSuffix = ".att"

	cosignSignature   = "dev.cosignproject.cosign/signature"
	annotationCreated = "org.opencontainers.image.created"
	emptyMediaType    = types.MediaType("application/vnd.oci.empty.v1+json")
	maxEnvelopeBytes  = 64 << 20
)

// Attestation is one envelope and its statement's predicate type.
type Attestation struct {
	PredicateType string
	Envelope      []byte
}

// ArtifactType is the referrer artifact type of a predicate type.
func ArtifactType(predicateType string) string {
	switch predicateType {
	case attest.PredicateSBOM:
		return ArtifactTypeSBOM
	case attest.PredicateSLSA:
		return ArtifactTypeSLSA
	}
	return "application/vnd.in-toto+dsse"
}

// isOurs reports whether an artifact type is one Push writes.
func isOurs(t string) bool {
	return t == ArtifactTypeSBOM || t == ArtifactTypeSLSA || t == "application/vnd.in-toto+dsse"
}

// rawManifest is a manifest to put as it is.
type rawManifest struct {
	data      []byte
	mediaType types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.data, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mediaType, nil }

var emptyBlob = []byte("{}")

// referrer builds the artifact manifest of one attestation.
func referrer(subject v1.Descriptor, a Attestation, created time.Time) ([]byte, v1.Descriptor) {
	// The config is the empty blob under the artifact type's media type
	// (the artifact manifest pattern from before artifactType existed), so
	// registries that derive a referrer's type from its config, such as
	// go-containerregistry's, list the same type as those that read
	// artifactType.
	at := ArtifactType(a.PredicateType)
	h, _, _ := v1.SHA256(bytes.NewReader(emptyBlob))
	cfg := v1.Descriptor{MediaType: types.MediaType(at), Digest: h, Size: int64(len(emptyBlob))}
	lh, _, _ := v1.SHA256(bytes.NewReader(a.Envelope))
	layer := v1.Descriptor{MediaType: EnvelopeMediaType, Digest: lh, Size: int64(len(a.Envelope)),
		Annotations: map[string]string{AnnotationPredicateType: a.PredicateType}}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: at, Config: cfg, Layers: []v1.Descriptor{layer},
		Annotations: map[string]string{annotationCreated: created.UTC().Format(time.RFC3339), AnnotationPredicateType: a.PredicateType},
		Subject:     &v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}}
	data, _ := json.Marshal(m)
	mh, _, _ := v1.SHA256(bytes.NewReader(data))
	return data, v1.Descriptor{MediaType: types.OCIManifestSchema1, ArtifactType: at, Digest: mh, Size: int64(len(data)),
		Annotations: map[string]string{AnnotationPredicateType: a.PredicateType}}
}

// cosignImage is cosign's attestation image: one layer per envelope.
func cosignImage(atts []Attestation) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	adds := make([]mutate.Addendum, 0, len(atts))
	for _, a := range atts {
		adds = append(adds, mutate.Addendum{Layer: static.NewLayer(a.Envelope, EnvelopeMediaType),
			Annotations: map[string]string{cosignSignature: "", AnnotationPredicateType: a.PredicateType}})
	}
	return mutate.Append(img, adds...)
}

// AttTag is cosign's attestation tag of an image digest.
func AttTag(subject name.Digest) name.Tag {
	return subject.Context().Tag(strings.Replace(subject.DigestStr(), ":", "-", 1) + AttSuffix)
}

// Pushed says what Push wrote.
type Pushed struct {
	Referrers []string // digests of the referrer manifests
	AttTag    string   // cosign's tag
}

// Push attaches atts to the image subject (repository@sha256:...): each as
// a referrer, and all of them as cosign's attestation tag (which Push
// replaces: it holds the attestations of this bake). created is the
// referrers' org.opencontainers.image.created (the image's, so a rebuild
// of the same unsigned attestations pushes the same manifests).
func Push(ctx context.Context, subject name.Digest, atts []Attestation, created time.Time, opts ...remote.Option) (*Pushed, error) {
	opts = append(append([]remote.Option(nil), opts...), remote.WithContext(ctx))
	desc, err := remote.Head(subject, opts...)
	if err != nil {
		return nil, fmt.Errorf("read the image %s to attest: %w", subject, err)
	}
	repo := subject.Context()
	empty := static.NewLayer(emptyBlob, emptyMediaType)
	if err := remote.WriteLayer(repo, empty, opts...); err != nil {
		return nil, fmt.Errorf("push the attestations' empty config to %s: %w", repo, err)
	}
	out := &Pushed{}
	for _, a := range atts {
		if err := remote.WriteLayer(repo, static.NewLayer(a.Envelope, EnvelopeMediaType), opts...); err != nil {
			return nil, fmt.Errorf("push a %s attestation of %s: %w", a.PredicateType, subject, err)
		}
		data, d := referrer(*desc, a, created)
		if err := remote.Put(repo.Digest(d.Digest.String()), rawManifest{data, types.OCIManifestSchema1}, opts...); err != nil {
			return nil, fmt.Errorf("push the %s attestation of %s as a referrer: %w", a.PredicateType, subject, err)
		}
		out.Referrers = append(out.Referrers, d.Digest.String())
	}
	img, err := cosignImage(atts)
	if err != nil {
		return nil, err
	}
	tag := AttTag(subject)
	if err := remote.Write(tag, img, opts...); err != nil {
		return nil, fmt.Errorf("push the attestations of %s as %s: %w", subject, tag, err)
	}
	out.AttTag = tag.String()
	return out, nil
}

// WriteLayout adds atts to the OCI layout dir as referrers of the image
// subject (its manifest's descriptor): the blobs, and one manifest per
// attestation listed in index.json with its artifact type.
func WriteLayout(dir string, subject v1.Descriptor, atts []Attestation, created time.Time) error {
	p, err := layout.FromPath(dir)
	if err != nil {
		return fmt.Errorf("open OCI layout %s: %w", dir, err)
	}
	h, _, _ := v1.SHA256(bytes.NewReader(emptyBlob))
	if err := p.WriteBlob(h, io.NopCloser(bytes.NewReader(emptyBlob))); err != nil {
		return fmt.Errorf("write attestations into %s: %w", dir, err)
	}
	for _, a := range atts {
		lh, _, _ := v1.SHA256(bytes.NewReader(a.Envelope))
		if err := p.WriteBlob(lh, io.NopCloser(bytes.NewReader(a.Envelope))); err != nil {
			return fmt.Errorf("write attestations into %s: %w", dir, err)
		}
		data, d := referrer(subject, a, created)
		if err := p.WriteBlob(d.Digest, io.NopCloser(bytes.NewReader(data))); err != nil {
			return fmt.Errorf("write attestations into %s: %w", dir, err)
		}
		if err := p.AppendDescriptor(d); err != nil {
			return fmt.Errorf("write attestations into %s: %w", dir, err)
		}
	}
	return nil
}

// Found is what Fetch read and from where.
type Found struct {
	Attestations []Attestation
	// Source is "referrers" or cosign's tag.
	Source string
}

// Fetch reads the attestations attached to the image subject: its
// referrers of pipbake's artifact types (through the referrers API or its
// fallback tag), else cosign's attestation tag. Nothing found is not an
// error (Found.Attestations is empty).
func Fetch(ctx context.Context, subject name.Digest, opts ...remote.Option) (*Found, error) {
	opts = append(append([]remote.Option(nil), opts...), remote.WithContext(ctx))
	idx, err := remote.Referrers(subject, opts...)
	if err != nil {
		return nil, fmt.Errorf("list the referrers of %s: %w", subject, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("list the referrers of %s: %w", subject, err)
	}
	var descs []v1.Descriptor
	for _, d := range im.Manifests {
		if isOurs(d.ArtifactType) {
			descs = append(descs, d)
		}
	}
	sort.Slice(descs, func(i, j int) bool { return descs[i].Digest.String() < descs[j].Digest.String() })
	f := &Found{Source: "referrers"}
	for _, d := range descs {
		a, err := fetchReferrer(subject, d, opts)
		if err != nil {
			return nil, err
		}
		f.Attestations = append(f.Attestations, a...)
	}
	if len(f.Attestations) > 0 {
		return f, nil
	}
	tag := AttTag(subject)
	img, err := remote.Image(tag, opts...)
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == 404 {
		return &Found{Source: tag.String()}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", tag, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", tag, err)
	}
	f = &Found{Source: tag.String()}
	for _, l := range m.Layers {
		if l.MediaType != EnvelopeMediaType {
			continue
		}
		data, err := readBlob(repoOf(subject), l, opts)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", tag, err)
		}
		f.Attestations = append(f.Attestations, Attestation{PredicateType: l.Annotations[AnnotationPredicateType], Envelope: data})
	}
	return f, nil
}

func repoOf(d name.Digest) name.Repository { return d.Context() }

func fetchReferrer(subject name.Digest, d v1.Descriptor, opts []remote.Option) ([]Attestation, error) {
	ref := subject.Context().Digest(d.Digest.String())
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("read the attestation %s: %w", ref, err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return nil, fmt.Errorf("read the attestation %s: %w", ref, err)
	}
	if m.Subject == nil || m.Subject.Digest.String() != subject.DigestStr() {
		return nil, nil // listed under the fallback tag, but about another image
	}
	var out []Attestation
	for _, l := range m.Layers {
		if l.MediaType != EnvelopeMediaType {
			continue
		}
		data, err := readBlob(subject.Context(), l, opts)
		if err != nil {
			return nil, fmt.Errorf("read the attestation %s: %w", ref, err)
		}
		pt := l.Annotations[AnnotationPredicateType]
		if pt == "" {
			pt = m.Annotations[AnnotationPredicateType]
		}
		out = append(out, Attestation{PredicateType: pt, Envelope: data})
	}
	return out, nil
}

// readBlob reads a small blob, checking its size and digest.
func readBlob(repo name.Repository, d v1.Descriptor, opts []remote.Option) ([]byte, error) {
	if d.Size < 0 || d.Size > maxEnvelopeBytes {
		return nil, fmt.Errorf("envelope %s of %d bytes is larger than %d", d.Digest, d.Size, maxEnvelopeBytes)
	}
	l, err := remote.Layer(repo.Digest(d.Digest.String()), opts...)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxEnvelopeBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read envelope %s: %w", d.Digest, err)
	}
	if int64(len(data)) != d.Size {
		return nil, fmt.Errorf("envelope %s has %d bytes, its descriptor says %d", d.Digest, len(data), d.Size)
	}
	if h, _, _ := v1.SHA256(bytes.NewReader(data)); h != d.Digest {
		return nil, fmt.Errorf("envelope %s has digest %s", d.Digest, h)
	}
	return data, nil
}
