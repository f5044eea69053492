package registry_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/registry"
)

func TestNamesRelease(t *testing.T) {
	for _, c := range []struct {
		tag, id string
		want    bool
	}{
		{"1.4.2", "1.4.2", true}, {"v1.4.2", "1.4.2", true}, {"api-1.4.2", "1.4.2", true}, {"api_v1.4.2", "1.4.2", true},
		{"1.4.2_build.7", "1.4.2+build.7", true},
		{"prod", "1.4.2", false}, {"latest", "7", false}, {"17", "7", false}, {"x1.4.2", "1.4.2", false}, {"7", "", false},
	} {
		if got := registry.NamesRelease(c.tag, c.id); got != c.want {
			t.Errorf("NamesRelease(%q, %q) = %v", c.tag, c.id, got)
		}
	}
}

func TestRegistryPrune(t *testing.T) {
	for name, start := range map[string]func(*testing.T) string{"go-containerregistry": inProcess, "docker-registry": debianRegistry} {
		t.Run(name, func(t *testing.T) { pruneScenario(t, start(t)) })
	}
}

// pruneScenario: keep 1 of five releases: 5 is revoked (deleted first,
// not counted), 4 is the newest kept, prod refers to 2 (kept), 1 and 3 are
// to go; a dry run deletes nothing; a tag that comes to refer to 1 after
// the plan saves it; the rest go with all their tags.
func pruneScenario(t *testing.T, host string) {
	ctx := context.Background()
	repo := host + "/pipbake/api-node"
	rel := func(id string) catalog.Release {
		return catalog.Release{Family: "api-node", Release: id, Sets: "api@" + id}
	}
	digest := map[string]string{}
	images := map[string]v1.Image{}
	for i, tag := range []string{"1", "v2", "api-node-3", "4", "5"} {
		id := string(rune('1' + i))
		images[id] = releaseImage(t, rel(id), i+1, "amd64")
		digest[id] = push(t, repo+":"+tag, images[id])
	}
	push(t, repo+":prod", images["2"])
	push(t, repo+":3", images["3"]) // a second own tag

	c, err := registry.New(repo)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := c.PlanRevoke(ctx, "5", "", "broken", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ExecuteRevoke(ctx, rp); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PlanPrune(ctx, "api-node", 0); err == nil {
		t.Error("keep 0 accepted")
	}
	p, err := c.PlanPrune(ctx, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	s := p.String()
	for _, want := range []string{
		"prune family api-node in " + repo + ", keeping the newest 1 not revoked and every release another tag refers to\n",
		"  keep   api-node@4 (" + digest["4"][:19] + ") (tags 4): one of the newest 1\n",
		"  keep   api-node@2 (" + digest["2"][:19] + ") (tags prod, v2): tag prod refers to it\n",
		"  delete api-node@5 (" + digest["5"][:19] + ") (revoked",
		"  delete api-node@3 (" + digest["3"][:19] + "): manifest " + digest["3"] + " and its tags 3, api-node-3\n",
		"  delete api-node@1 (" + digest["1"][:19] + "): manifest " + digest["1"] + " and its tags 1\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("plan lacks %q:\n%s", want, s)
		}
	}
	if i5, i1 := strings.Index(s, "delete api-node@5"), strings.Index(s, "delete api-node@1"); i5 > i1 {
		t.Errorf("the revoked release is not deleted first:\n%s", s)
	}

	// Planning is the dry run: every tag is still there.
	exists := func(tag string) bool {
		_, err := remote.Head(c.Repo.Tag(tag))
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == 404 {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		return true
	}
	for _, tag := range []string{"1", "v2", "3", "api-node-3", "4", "5", "prod"} {
		if !exists(tag) {
			t.Fatalf("planning deleted %s", tag)
		}
	}

	// staging comes to refer to 1 after the plan: it stays.
	push(t, repo+":staging", images["1"])
	var said []string
	deleted, err := c.ExecutePrune(ctx, p, func(s string) { said = append(said, s) })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(deleted, " ") != digest["5"]+" "+digest["3"] {
		t.Errorf("deleted %v, want 5 and 3", deleted)
	}
	if !strings.Contains(strings.Join(said, "\n"), "skip api-node@1 ("+digest["1"][:19]+"): tag staging came to refer to it") {
		t.Errorf("said:\n%s", strings.Join(said, "\n"))
	}
	for tag, want := range map[string]bool{"1": true, "staging": true, "v2": true, "prod": true, "4": true, "3": false, "api-node-3": false, "5": false} {
		if got := exists(tag); got != want {
			t.Errorf("after prune, tag %s exists: %v, want %v", tag, got, want)
		}
	}
}
