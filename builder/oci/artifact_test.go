package oci_test

import (
	"testing"

	registryimage "github.com/hashicorp/packer-plugin-sdk/packer/registry/image"

	"github.com/pipbake/packer-plugin-pipbake/builder/oci"
)

func TestArtifactHCPMetadata(t *testing.T) {
	a := &oci.Artifact{Digest: "sha256:abc", Reference: "127.0.0.1:5000/web/app@sha256:abc", Registry: "127.0.0.1:5000",
		Base: "debian:bookworm", BaseDigest: "sha256:base", Labels: map[string]string{"pipbake:release": "r1"}}
	img, ok := a.State(registryimage.ArtifactStateURI).(*registryimage.Image)
	if !ok {
		t.Fatalf("par.artifact.metadata is %T", a.State(registryimage.ArtifactStateURI))
	}
	if img.ImageID != a.Reference || img.ProviderName != "oci" || img.ProviderRegion != "127.0.0.1:5000" || img.SourceImageID != "sha256:base" || img.Labels["pipbake:release"] != "r1" {
		t.Errorf("metadata %+v", img)
	}
	if a.Id() != a.Reference || a.BuilderId() != oci.BuilderID {
		t.Errorf("id %s builder %s", a.Id(), a.BuilderId())
	}
	l := &oci.Artifact{Digest: "sha256:abc", Layout: "/out/app"}
	if l.Id() != "/out/app@sha256:abc" {
		t.Errorf("layout id %s", l.Id())
	}
	if img, _ := l.State(registryimage.ArtifactStateURI).(*registryimage.Image); img == nil || img.ProviderRegion != "oci-layout:/out/app" {
		t.Errorf("layout metadata %+v", img)
	}
}
