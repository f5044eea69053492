package oci

import (
	"fmt"
	"os"
	"strings"

	registryimage "github.com/hashicorp/packer-plugin-sdk/packer/registry/image"
)

// Artifact is a built image: pushed (Reference) and/or written as an OCI
// layout (Layout).
type Artifact struct {
	// Digest is the image manifest's digest.
	Digest string
	// Reference is registry/repo@digest when pushed; Registry its host.
	Reference, Registry string
	// Layout is the OCI layout folder when written.
	Layout string
	// Base and BaseDigest name the base image.
	Base, BaseDigest string
	// Labels are pipbake's labels (pipbake:family, ...).
	Labels map[string]string
	// Layers counts the new layers; SetLayers describes the sets' own.
	Layers    int
	SetLayers []SetLayer
	// BlobUploads counts blobs the push had to send.
	BlobUploads int64
	// Attestations are the digests of the attestation referrers pushed.
	Attestations []string
}

// SetLayer is one pipbake set's layer.
type SetLayer struct {
	Set, Release, Digest string
	// Cached is true when the layer's blob was already built before.
	Cached bool
}

func (a *Artifact) BuilderId() string { return BuilderID }

// Files lists nothing: a layout is a folder (see Id and State("layout")).
func (a *Artifact) Files() []string { return nil }

// Id is the pushed reference by digest, else LAYOUT@digest.
func (a *Artifact) Id() string {
	if a.Reference != "" {
		return a.Reference
	}
	return a.Layout + "@" + a.Digest
}

func (a *Artifact) String() string {
	var parts []string
	if a.Reference != "" {
		parts = append(parts, "pushed "+a.Reference)
	}
	if a.Layout != "" {
		parts = append(parts, "OCI layout "+a.Layout+" ("+a.Digest+")")
	}
	s := "pipbake-oci image: " + strings.Join(parts, "; ")
	for _, l := range a.SetLayers {
		s += fmt.Sprintf("\n  set %s (release %s): layer %s", l.Set, l.Release, l.Digest)
	}
	return s
}

// State answers "par.artifact.metadata" (HCP Packer registry), "digest",
// "reference", "layout" and "labels".
func (a *Artifact) State(name string) interface{} {
	switch name {
	case registryimage.ArtifactStateURI:
		region := a.Registry
		if region == "" {
			region = "oci-layout:" + a.Layout
		}
		labels := map[string]interface{}{"base": a.Base, "base_digest": a.BaseDigest, "digest": a.Digest}
		for k, v := range a.Labels {
			labels[k] = v
		}
		img, err := registryimage.FromArtifact(a,
			registryimage.WithProvider("oci"),
			registryimage.WithID(a.Id()),
			registryimage.WithRegion(region),
			registryimage.WithSourceID(a.BaseDigest),
			registryimage.SetLabels(labels),
		)
		if err != nil {
			return nil
		}
		return img
	case "digest":
		return a.Digest
	case "reference":
		return a.Reference
	case "layout":
		return a.Layout
	case "labels":
		return a.Labels
	}
	return nil
}

// Destroy removes the layout folder; a pushed image is left in its
// registry.
func (a *Artifact) Destroy() error {
	if a.Layout != "" {
		return os.RemoveAll(a.Layout)
	}
	return nil
}
