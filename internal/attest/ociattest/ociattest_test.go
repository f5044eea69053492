package ociattest_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
	"github.com/pipbake/packer-plugin-pipbake/internal/attest/ociattest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/registrytest"
)

func attestations(t *testing.T, digestHex string) []ociattest.Attestation {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var out []ociattest.Attestation
	for _, pt := range []string{attest.PredicateSBOM, attest.PredicateSLSA} {
		st, err := attest.NewStatement(pt, []byte(`{"x":1}`), attest.SHA256Subject("img", digestHex))
		if err != nil {
			t.Fatal(err)
		}
		env, err := attest.Wrap(st, k)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ociattest.Attestation{PredicateType: pt, Envelope: env.Bytes()})
	}
	return out
}

// roundTrip pushes an image and its attestations to host and reads them
// back: from the referrers (API or fallback tag) and cosign's tag.
func roundTrip(t *testing.T, host string) {
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host+"/app/web:1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	subject := ref.Context().Digest(d.String())
	atts := attestations(t, d.Hex)
	pushed, err := ociattest.Push(context.Background(), subject, atts, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(pushed.Referrers) != 2 || !strings.HasSuffix(pushed.AttTag, ":sha256-"+d.Hex+".att") {
		t.Fatalf("pushed %+v", pushed)
	}
	idx, err := remote.Referrers(subject)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	types := map[string]bool{}
	for _, m := range im.Manifests {
		types[m.ArtifactType] = true
	}
	if !types[ociattest.ArtifactTypeSBOM] || !types[ociattest.ArtifactTypeSLSA] {
		t.Errorf("referrers %+v", im.Manifests)
	}
	found, err := ociattest.Fetch(context.Background(), subject)
	if err != nil {
		t.Fatal(err)
	}
	if found.Source != "referrers" || len(found.Attestations) != 2 {
		t.Fatalf("found %d from %s", len(found.Attestations), found.Source)
	}
	for _, a := range found.Attestations {
		if !bytes.Equal(a.Envelope, atts[0].Envelope) && !bytes.Equal(a.Envelope, atts[1].Envelope) {
			t.Error("an envelope came back changed")
		}
	}
	// cosign's tag holds both envelopes as layers.
	att, err := remote.Image(ociattest.AttTag(subject))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := att.Manifest()
	if len(m.Layers) != 2 || m.Layers[0].MediaType != ociattest.EnvelopeMediaType {
		t.Errorf("cosign tag manifest %+v", m)
	}
	if _, ok := m.Layers[0].Annotations["dev.cosignproject.cosign/signature"]; !ok {
		t.Error("cosign's layers lack the signature annotation")
	}
}

func TestPushFetchReferrersAPI(t *testing.T) {
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)), ggcrregistry.WithReferrersSupport(true)))
	defer srv.Close()
	roundTrip(t, strings.TrimPrefix(srv.URL, "http://"))
}

// Debian's docker-registry 2.8 has no referrers API: the referrers are
// listed under the fallback tag sha256-<digest>.
func TestPushFetchFallbackTag(t *testing.T) {
	reg := registrytest.Start(t)
	roundTrip(t, reg.Host)
	// The fallback index tag exists.
	tags, err := remote.List(mustRepo(t, reg.Host+"/app/web"))
	if err != nil {
		t.Fatal(err)
	}
	var fallback, att int
	for _, tg := range tags {
		if strings.HasPrefix(tg, "sha256-") && !strings.HasSuffix(tg, ".att") {
			fallback++
		}
		if strings.HasSuffix(tg, ".att") {
			att++
		}
	}
	if fallback != 1 || att != 1 {
		t.Errorf("tags %v: want one fallback index tag and one .att tag", tags)
	}
}

// An image with only cosign's tag (attested by cosign itself, or by a
// registry that lost the referrers) is read from that tag.
func TestFetchFromCosignTagOnly(t *testing.T) {
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img, _ := random.Image(64, 1)
	ref, _ := name.ParseReference(host+"/app:1", name.Insecure)
	remote.Write(ref, img)
	d, _ := img.Digest()
	subject := ref.Context().Digest(d.String())
	atts := attestations(t, d.Hex)
	// Only the tag: build it as Push does, through the exported tag name.
	att := mutate.MediaType(empty.Image, "application/vnd.oci.image.manifest.v1+json")
	for _, a := range atts {
		att, _ = mutate.Append(att, mutate.Addendum{Layer: staticLayer(a.Envelope), Annotations: map[string]string{
			"dev.cosignproject.cosign/signature": "", ociattest.AnnotationPredicateType: a.PredicateType}})
	}
	if err := remote.Write(ociattest.AttTag(subject), att); err != nil {
		t.Fatal(err)
	}
	found, err := ociattest.Fetch(context.Background(), subject)
	if err != nil {
		t.Fatal(err)
	}
	if len(found.Attestations) != 2 || !strings.HasSuffix(found.Source, ".att") {
		t.Fatalf("found %d from %s", len(found.Attestations), found.Source)
	}
	// No attestations at all: empty, no error.
	img2, _ := random.Image(64, 1)
	remote.Write(ref, img2)
	d2, _ := img2.Digest()
	found, err = ociattest.Fetch(context.Background(), ref.Context().Digest(d2.String()))
	if err != nil || len(found.Attestations) != 0 {
		t.Fatalf("unattested image: %v %+v", err, found)
	}
}

func TestWriteLayout(t *testing.T) {
	dir := t.TempDir()
	img, _ := random.Image(64, 1)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	sz, _ := img.Size()
	mt, _ := img.MediaType()
	atts := attestations(t, d.Hex)
	if err := ociattest.WriteLayout(dir, v1.Descriptor{MediaType: mt, Digest: d, Size: sz}, atts, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	idx, _ := p.ImageIndex()
	im, _ := idx.IndexManifest()
	if len(im.Manifests) != 3 {
		t.Fatalf("%d manifests in the layout", len(im.Manifests))
	}
	for _, m := range im.Manifests[1:] {
		raw, err := p.Bytes(m.Digest)
		if err != nil || !bytes.Contains(raw, []byte(d.String())) {
			t.Errorf("referrer %s: %v", m.Digest, err)
		}
	}
}

// TestVerifyWithoutTrustedAttestations: an image without attestations,
// and one whose attestations another key signed, do not verify (the
// report says why; no error).
func TestVerifyWithoutTrustedAttestations(t *testing.T) {
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)), ggcrregistry.WithReferrersSupport(true)))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img, _ := random.Image(64, 1)
	ref, _ := name.ParseReference(host+"/app:1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	mine, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rep, err := ociattest.Verify(context.Background(), ref, &mine.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Clean() || rep.Problems[0].Kind != ociattest.Unattested || !strings.Contains(rep.Problems[0].Detail, "no attestation") {
		t.Fatalf("unattested image: %+v", rep)
	}
	d, _ := img.Digest()
	if _, err := ociattest.Push(context.Background(), ref.Context().Digest(d.String()), attestations(t, d.Hex), time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	rep, err = ociattest.Verify(context.Background(), ref, &mine.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Clean() || rep.Verified != 0 || len(rep.Ignored) != 2 || !strings.Contains(rep.Problems[0].Detail, "verifies with the key") {
		t.Fatalf("attestations of another key: %+v", rep)
	}
}
