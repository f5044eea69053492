package registry_test

import (
	"context"
	"fmt"
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
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/registry"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/registrytest"
)

// inProcess is go-containerregistry's registry on a loopback port.
func inProcess(t *testing.T) string {
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// debianRegistry runs Debian's docker-registry (the CNCF distribution
// registry) on a loopback port with storage in a temp dir. With -short
// (make check, under -race) the tests run against the in-process
// registry only: the three docker-registry runs were 7.8 of the
// package's 10.3 s of CPU, and pipbake's side of them is the same code.
func debianRegistry(t *testing.T) string {
	if testing.Short() {
		t.Skip("starts Debian's docker-registry; make test runs it")
	}
	return registrytest.Start(t).Host
}

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// releaseImage is a small image with the release's facts as config
// labels (as a Dockerfile LABEL or the pipbake-oci builder puts them).
func releaseImage(t *testing.T, r catalog.Release, day int, arch string) v1.Image {
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Labels = r.Tags()
	cf.Created = v1.Time{Time: t0.AddDate(0, 0, day)}
	cf.OS, cf.Architecture = "linux", arch
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func push(t *testing.T, ref string, img remote.Taggable) string {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	switch x := img.(type) {
	case v1.Image:
		err = remote.Write(tag, x)
	case v1.ImageIndex:
		err = remote.WriteIndex(tag, x)
	}
	if err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := remote.Head(tag)
	if err != nil {
		t.Fatal(err)
	}
	return d.Digest.String()
}

func TestRegistryPromoteAndRollback(t *testing.T) {
	for name, start := range map[string]func(*testing.T) string{"go-containerregistry": inProcess, "docker-registry": debianRegistry} {
		t.Run(name, func(t *testing.T) { scenario(t, start(t)) })
	}
}

func scenario(t *testing.T, host string) {
	ctx := context.Background()
	repo := host + "/pipbake/api-node"
	rel := func(id string) catalog.Release {
		return catalog.Release{Family: "api-node", Release: id, Sets: "api@" + id, LockSHA256: strings.Repeat("1", 64)}
	}
	digest := map[string]string{}
	digest["1"] = push(t, repo+":1", releaseImage(t, rel("1"), 1, "amd64"))
	digest["2"] = push(t, repo+":2", releaseImage(t, rel("2"), 2, "amd64"))
	digest["10"] = push(t, repo+":10", releaseImage(t, rel("10"), 3, "amd64"))
	// Release 11: a two-platform index whose facts are annotations on the
	// index (what a builder that only annotates writes); its images carry
	// no labels.
	plain := func(arch string) v1.Image { return releaseImage(t, catalog.Release{}, 4, arch) }
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: plain("amd64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: plain("arm64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
	idx = mutate.Annotations(idx, rel("11").Tags()).(v1.ImageIndex)
	digest["11"] = push(t, repo+":11", idx)
	push(t, repo+":base", plain("amd64"))
	// Another family in the same repository.
	push(t, repo+":worker-1", releaseImage(t, catalog.Release{Family: "worker", Release: "1"}, 5, "amd64"))

	c, err := registry.New(repo)
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.Images(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, im := range list {
		got = append(got, fmt.Sprintf("%s:%s", im.Release, strings.Join(im.Tags, "+")))
	}
	if want := "api-node@1:1 api-node@2:2 api-node@10:10 api-node@11:11 worker@1:worker-1 @:base"; strings.Join(got, " ") != want {
		t.Fatalf("images:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if p := list[3].Platforms; len(p) != 2 || p[0] != "linux/amd64" || p[1] != "linux/arm64" || list[3].MediaType != string(types.OCIImageIndex) {
		t.Errorf("index: %+v", list[3])
	}

	// promote a release to a new tag; it needs the family (two in the repo).
	if _, err := c.PlanPromote(ctx, "10", "prod", "", false); err == nil || !strings.Contains(err.Error(), "give --family") {
		t.Errorf("promote without a family: %v", err)
	}
	p, err := c.PlanPromote(ctx, "10", "prod", "api-node", false)
	if err != nil {
		t.Fatal(err)
	}
	if s := p.String(); !strings.Contains(s, "before: the tag does not exist") || !strings.Contains(s, "after:  api-node@10 (") {
		t.Errorf("plan:\n%s", s)
	}
	if err := c.Execute(ctx, p); err != nil {
		t.Fatal(err)
	}
	tagDigest := func() string {
		d, err := remote.Head(c.Repo.Tag("prod"))
		if err != nil {
			t.Fatal(err)
		}
		return d.Digest.String()
	}
	if tagDigest() != digest["10"] {
		t.Fatal("prod does not point at release 10")
	}

	// Roll back twice, then nothing earlier.
	for _, want := range []string{"2", "1"} {
		p, err := c.PlanRollback(ctx, "prod", "", false)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Execute(ctx, p); err != nil {
			t.Fatal(err)
		}
		if tagDigest() != digest[want] {
			t.Fatalf("after rollback prod is %s, want release %s", tagDigest(), want)
		}
	}
	if _, err := c.PlanRollback(ctx, "prod", "", false); err == nil || !strings.Contains(err.Error(), "the oldest release of api-node in the repository: nothing earlier to go back to") {
		t.Errorf("rollback from the oldest: %v", err)
	}
	// --to: the index release, by id; then promote by digest.
	p, err = c.PlanRollback(ctx, "prod", "11", false)
	if err != nil || c.Execute(ctx, p) != nil || tagDigest() != digest["11"] {
		t.Fatalf("rollback --to 11: %v", err)
	}
	p, err = c.PlanPromote(ctx, digest["2"], "prod", "", false)
	if err != nil || c.Execute(ctx, p) != nil || tagDigest() != digest["2"] {
		t.Fatalf("promote by digest: %v", err)
	}
	// Refusals: unknown release, other family, no tag.
	if _, err := c.PlanRollback(ctx, "prod", "7", false); err == nil || !strings.Contains(err.Error(), "family api-node has no release 7 in the repository (releases: 1, 2, 10, 11)") {
		t.Errorf("unknown release: %v", err)
	}
	if _, err := c.PlanPromote(ctx, "1", "prod", "worker", false); err == nil || !strings.Contains(err.Error(), "the tag points at family api-node, not worker") {
		t.Errorf("other family: %v", err)
	}
	if _, err := c.PlanRollback(ctx, "staging", "", false); err == nil || !strings.Contains(err.Error(), "there is no such tag") {
		t.Errorf("no tag: %v", err)
	}
	// The tag moved between plan and execute: nothing is changed.
	p, err = c.PlanPromote(ctx, "10", "prod", "", false)
	if err != nil {
		t.Fatal(err)
	}
	moved := push(t, repo+":prod", releaseImage(t, rel("1"), 1, "amd64"))
	if err := c.Execute(ctx, p); err == nil || !strings.Contains(err.Error(), "the tag moved to "+moved) || tagDigest() != moved {
		t.Errorf("moved tag: %v", err)
	}
}
