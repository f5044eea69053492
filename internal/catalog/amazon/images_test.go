package amazon_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon/amazontest"
)

func TestImagesInReleaseOrderWithUses(t *testing.T) {
	e := amazontest.New(t)
	ctx := context.Background()
	family := amazontest.Unique("images")
	r10 := e.Bake(t, family, "10", "x86_64")
	r2 := e.Bake(t, family, "2", "x86_64")
	r9 := e.Bake(t, family, "9", "x86_64")
	e.Bake(t, amazontest.Unique("other"), "1", "x86_64")
	untagged := e.Image(t, "x86_64")

	lt := e.Template(t, amazontest.Unique("lt"), r2)
	group := amazontest.Unique("web")
	e.Group(t, group, lt, "$Default", 1)

	list, err := e.Catalog.Images(ctx, family)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, im := range list {
		got = append(got, im.Release.Release+"="+im.ID)
	}
	if want := []string{"2=" + r2, "9=" + r9, "10=" + r10}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("releases %v, want %v (ids sort as numbers; other families and untagged images (%s) are left out)", got, want, untagged)
	}
	im := list[0]
	if im.State != "available" || im.Architecture != "x86_64" || im.Created.IsZero() || len(im.Snapshots) != 1 || im.Release.Sets != "api@2" {
		t.Errorf("image: %+v", im)
	}
	kinds := map[string]string{}
	for _, u := range im.UsedBy {
		kinds[u.Kind] = u.String()
	}
	if !strings.Contains(kinds["autoscaling-group"], group) || !strings.Contains(kinds["launch-template-version"], "version 1 (default, latest)") || kinds["instance"] == "" {
		t.Errorf("uses of release 2: %v", im.UsedBy)
	}
	if len(list[1].UsedBy) != 0 {
		t.Errorf("release 9 is used by %v", list[1].UsedBy)
	}

	// The snapshot carries the same tags.
	out, err := e.EC2.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: im.Snapshots})
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{}
	for _, tg := range out.Snapshots[0].Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if r, ok := catalog.FromTags(tags); !ok || r.Family != family || r.Release != "2" || r.LockSHA256 == "" {
		t.Errorf("snapshot tags: %v", tags)
	}
}

func TestTagReleaseChecksTheTagLimit(t *testing.T) {
	e := amazontest.New(t)
	ctx := context.Background()
	id := e.Image(t, "x86_64")
	var tags []types.Tag
	for i := 0; i < 47; i++ {
		tags = append(tags, types.Tag{Key: aws.String(amazontest.Unique("k")), Value: aws.String("v")})
	}
	if _, err := e.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: tags}); err != nil {
		t.Fatal(err)
	}
	r := catalog.Release{Family: "f", Release: "1", Sets: "a@1", LockSHA256: "l", ReceiptSHA256: "r"}
	if _, err := e.Catalog.TagRelease(ctx, id, r); err == nil || !strings.Contains(err.Error(), "52 tags: AWS allows 50") {
		t.Fatalf("47 + 5 tags: %v", err)
	}
	r.Sets, r.LockSHA256 = "", ""
	if _, err := e.Catalog.TagRelease(ctx, id, r); err != nil {
		t.Fatalf("47 + 3 tags make 50, the limit: %v", err)
	}
}
