package amazon

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
)

// TagRelease tags an image and each of its snapshots with the release's
// tags, checking AWS's 50-tag limit against the tags each already has. It
// returns the snapshots tagged.
func (c *Catalog) TagRelease(ctx context.Context, imageID string, r catalog.Release) ([]string, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("tag %s: %w", imageID, err)
	}
	im, err := c.Image(ctx, imageID)
	if err != nil {
		return nil, fmt.Errorf("tag release %s: %w", r, err)
	}
	if _, err := r.Merge(im.Tags); err != nil {
		return nil, fmt.Errorf("tag image %s: %w", imageID, err)
	}
	for _, snap := range im.Snapshots {
		out, err := c.EC2.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snap}})
		if err != nil {
			return nil, fmt.Errorf("describe snapshot %s of %s: %w", snap, imageID, err)
		}
		existing := map[string]string{}
		for _, s := range out.Snapshots {
			for _, t := range s.Tags {
				existing[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
		}
		if _, err := r.Merge(existing); err != nil {
			return nil, fmt.Errorf("tag snapshot %s of %s: %w", snap, imageID, err)
		}
	}
	tags := r.Tags()
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var ec2Tags []types.Tag
	for _, k := range keys {
		ec2Tags = append(ec2Tags, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	resources := append([]string{imageID}, im.Snapshots...)
	if _, err := c.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: resources, Tags: ec2Tags}); err != nil {
		return nil, fmt.Errorf("tag image %s and its snapshots in %s: %w", imageID, c.Region, err)
	}
	return im.Snapshots, nil
}
