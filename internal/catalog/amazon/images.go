package amazon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
)

// Image is one AMI.
type Image struct {
	ID           string            `json:"id"`
	Region       string            `json:"region"`
	Name         string            `json:"name,omitempty"`
	State        string            `json:"state"`
	Architecture string            `json:"architecture,omitempty"`
	Created      time.Time         `json:"created"`
	Snapshots    []string          `json:"snapshots,omitempty"`
	Tags         map[string]string `json:"-"`
	// Release is what the pipbake tags say; IsRelease is false when the
	// image lacks pipbake:family or pipbake:release.
	Release   catalog.Release `json:"release"`
	IsRelease bool            `json:"-"`
	// Revoked is set when the release is marked bad (pipbake:revoked).
	Revoked *catalog.Revocation `json:"revoked,omitempty"`
	// UsedBy and Runs (when groups launched it) are filled in by
	// Catalog.Images.
	UsedBy []Use `json:"used_by"`
	Runs   []Run `json:"runs"`
}

// Label is "family@release (ami-...)", or the id alone.
func (im *Image) Label() string {
	if im == nil {
		return "(none)"
	}
	if im.IsRelease {
		return fmt.Sprintf("%s (%s)", im.Release, im.ID)
	}
	return im.ID
}

// ErrImageNotFound is wrapped by Image when there is no such image.
var ErrImageNotFound = errors.New("image not found")

func fromEC2(region string, in types.Image) Image {
	im := Image{
		ID: aws.ToString(in.ImageId), Region: region, Name: aws.ToString(in.Name),
		State: string(in.State), Architecture: string(in.Architecture), Tags: map[string]string{},
	}
	if t, err := time.Parse(time.RFC3339, aws.ToString(in.CreationDate)); err == nil {
		im.Created = t.UTC()
	}
	for _, t := range in.Tags {
		im.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	for _, b := range in.BlockDeviceMappings {
		if b.Ebs != nil && b.Ebs.SnapshotId != nil {
			im.Snapshots = append(im.Snapshots, *b.Ebs.SnapshotId)
		}
	}
	im.Release, im.IsRelease = catalog.FromTags(im.Tags)
	im.Revoked = catalog.RevocationFromTags(im.Tags)
	return im
}

// Images returns family's releases in the region, oldest first, with what
// uses each.
func (c *Catalog) Images(ctx context.Context, family string) ([]Image, error) {
	list, err := c.familyImages(ctx, family)
	if err != nil {
		return nil, err
	}
	refs, err := c.References(ctx)
	if err != nil {
		return nil, err
	}
	runs := refs.runs()
	for i := range list {
		list[i].UsedBy = refs.For(list[i].ID)
		list[i].Runs = runs[list[i].ID]
		if list[i].Runs == nil {
			list[i].Runs = []Run{}
		}
	}
	return list, nil
}

// familyImages lists family's releases, oldest first, without usage.
func (c *Catalog) familyImages(ctx context.Context, family string) ([]Image, error) {
	var list []Image
	p := ec2.NewDescribeImagesPaginator(c.EC2, &ec2.DescribeImagesInput{
		Owners:  c.owners(),
		Filters: []types.Filter{{Name: aws.String("tag:" + catalog.TagFamily), Values: []string{family}}},
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list images of family %s in %s: %w", family, c.Region, err)
		}
		for _, in := range out.Images {
			if im := fromEC2(c.Region, in); im.IsRelease && im.Release.Family == family {
				list = append(list, im)
			}
		}
	}
	sortImages(list)
	return list, nil
}

func sortImages(list []Image) {
	slices.SortStableFunc(list, func(a, b Image) int {
		if n := catalog.Compare(a.Release.Release, a.Created, b.Release.Release, b.Created); n != 0 {
			return n
		}
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
}

// Image describes one AMI (any owner: the id is explicit). The error wraps
// ErrImageNotFound when it does not exist (or is no longer visible).
func (c *Catalog) Image(ctx context.Context, id string) (*Image, error) {
	out, err := c.EC2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
	if err != nil {
		if code := errorCode(err); code == "InvalidAMIID.NotFound" || code == "InvalidAMIID.Unavailable" {
			return nil, fmt.Errorf("image %s in %s: %w", id, c.Region, ErrImageNotFound)
		}
		return nil, fmt.Errorf("describe image %s in %s: %w", id, c.Region, err)
	}
	for _, in := range out.Images {
		if aws.ToString(in.ImageId) == id {
			im := fromEC2(c.Region, in)
			return &im, nil
		}
	}
	return nil, fmt.Errorf("image %s in %s: %w", id, c.Region, ErrImageNotFound)
}

// missingSnapshots returns the image's snapshots that no longer exist or
// are in the error state.
func (c *Catalog) missingSnapshots(ctx context.Context, im *Image) ([]string, error) {
	var missing []string
	for _, id := range im.Snapshots {
		out, err := c.EC2.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
		if err != nil {
			if errorCode(err) == "InvalidSnapshot.NotFound" {
				missing = append(missing, id)
				continue
			}
			return nil, fmt.Errorf("describe snapshot %s of %s: %w", id, im.ID, err)
		}
		if len(out.Snapshots) == 0 || out.Snapshots[0].State == types.SnapshotStateError {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

// errorCode is the AWS error code of err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
