package ociattest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
	"github.com/pipbake/packer-plugin-pipbake/internal/attest/ociattest"
	"github.com/pipbake/packer-plugin-pipbake/internal/attest/orastest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/registrytest"
)

// imageAttestations are an image's attestations as the pipbake-oci builder
// makes them: an SBOM statement per set (two sets) and the provenance,
// signed, all about the image digest.
func imageAttestations(t *testing.T, repo, digestHex string) []ociattest.Attestation {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sub := attest.SHA256Subject(repo, digestHex)
	var sts []*attest.Statement
	for _, set := range []string{"api", "web"} {
		st, err := attest.SBOMStatement([]byte(`{"bomFormat":"CycloneDX","specVersion":"1.5","metadata":{"component":{"name":"`+set+`"}}}`), sub)
		if err != nil {
			t.Fatal(err)
		}
		sts = append(sts, st)
	}
	prov, err := attest.NewStatement(attest.PredicateSLSA, []byte(`{"buildDefinition":{"buildType":"`+attest.BuildType+`"}}`), sub)
	if err != nil {
		t.Fatal(err)
	}
	var out []ociattest.Attestation
	for _, st := range append(sts, prov) {
		env, err := attest.Wrap(st, k)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ociattest.Attestation{PredicateType: st.PredicateType, Envelope: env.Bytes()})
	}
	return out
}

// orasDiscover pushes an image to host and its attestations with
// ociattest.Push, then checks what the real `oras discover --format json`
// lists with each distribution spec in specs ("" lets oras choose): the
// image as the subject, and under it exactly the referrers Push wrote,
// each with the artifact type of its statement's predicate; and, through
// `oras manifest fetch`, that each referrer's subject is the image and its
// one layer is one of the envelopes. It returns the image's name@digest.
func orasDiscover(t *testing.T, host string, specs ...string) string {
	orastest.Bin(t) // skip or fail first when oras is missing
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
	atts := imageAttestations(t, ref.Context().Name(), d.Hex)
	pushed, err := ociattest.Push(context.Background(), subject, atts, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	envelopes := map[string]ociattest.Attestation{} // by the envelope's digest
	for _, a := range atts {
		envelopes["sha256:"+attest.SHA256Hex(a.Envelope)] = a
	}
	want := append([]string(nil), pushed.Referrers...)
	sort.Strings(want)
	for _, spec := range specs {
		tree, err := orastest.Discover(t, subject.String(), spec)
		if err != nil {
			t.Fatalf("spec %q: %v", spec, err)
		}
		if tree.Digest != d.String() {
			t.Errorf("spec %q: oras discover's subject is %s, want the image %s", spec, tree.Digest, d)
		}
		var got []string
		types := map[string]int{}
		for _, r := range tree.Referrers {
			got = append(got, r.Digest)
			pt := r.Annotations[ociattest.AnnotationPredicateType]
			if r.ArtifactType != ociattest.ArtifactType(pt) || pt == "" {
				t.Errorf("spec %q: referrer %s has artifactType %q for predicate %q, want %q", spec, r.Digest, r.ArtifactType, pt, ociattest.ArtifactType(pt))
			}
			types[r.ArtifactType]++
		}
		sort.Strings(got)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("spec %q: oras discover lists %v, Push wrote %v", spec, got, want)
		}
		if types[ociattest.ArtifactTypeSBOM] != 2 || types[ociattest.ArtifactTypeSLSA] != 1 {
			t.Errorf("spec %q: artifact types %v, want 2 %s and 1 %s", spec, types, ociattest.ArtifactTypeSBOM, ociattest.ArtifactTypeSLSA)
		}
	}
	// Each referrer, as oras reads it: about the image, holding one
	// envelope of its predicate.
	for _, r := range want {
		out, errOut, err := orastest.Run(t, "manifest", "fetch", "--plain-http", ref.Context().Name()+"@"+r)
		if err != nil {
			t.Fatalf("oras manifest fetch %s: %v\n%s", r, err, errOut)
		}
		var m struct {
			ArtifactType string `json:"artifactType"`
			Subject      struct {
				Digest string `json:"digest"`
			} `json:"subject"`
			Layers []struct {
				MediaType string `json:"mediaType"`
				Digest    string `json:"digest"`
			} `json:"layers"`
		}
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("oras manifest fetch %s: %v\n%s", r, err, out)
		}
		if m.Subject.Digest != d.String() {
			t.Errorf("referrer %s is about %s, want the image %s", r, m.Subject.Digest, d)
		}
		if len(m.Layers) != 1 || m.Layers[0].MediaType != ociattest.EnvelopeMediaType {
			t.Fatalf("referrer %s layers %+v", r, m.Layers)
		}
		a, ok := envelopes[m.Layers[0].Digest]
		if !ok || ociattest.ArtifactType(a.PredicateType) != m.ArtifactType {
			t.Errorf("referrer %s (%s) holds %s, which is no envelope of that predicate Push was given", r, m.ArtifactType, m.Layers[0].Digest)
		}
		delete(envelopes, m.Layers[0].Digest)
	}
	if len(envelopes) != 0 {
		t.Errorf("envelopes no referrer holds: %v", envelopes)
	}
	return subject.String()
}

// TestOrasDiscoverReferrersAPI: go-containerregistry's registry with the
// referrers API; oras asked to use the API, and left to choose.
func TestOrasDiscoverReferrersAPI(t *testing.T) {
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)), ggcrregistry.WithReferrersSupport(true)))
	defer srv.Close()
	orasDiscover(t, strings.TrimPrefix(srv.URL, "http://"), "v1.1-referrers-api", "")
}

// TestOrasDiscoverFallbackTag: Debian's docker-registry 2.8, without the
// referrers API: oras reads the referrers tag sha256-<digest> Push keeps,
// when told to and when it finds the API missing.
func TestOrasDiscoverFallbackTag(t *testing.T) {
	orastest.Bin(t)
	reg := registrytest.Start(t)
	subject := orasDiscover(t, reg.Host, "v1.1-referrers-tag", "")
	// The registry has no referrers API indeed: what oras listed came from
	// the tag.
	if _, err := orastest.Discover(t, subject, "v1.1-referrers-api"); err == nil || !strings.Contains(err.Error(), "referrers API") {
		t.Errorf("oras discover through docker-registry's referrers API: %v", err)
	}
}
