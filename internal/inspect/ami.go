package inspect

import (
	"context"
	"fmt"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon"
)

// inspectAMI reads an AMI's tags (EC2 DescribeImages): what an AMI's
// tags say is all that can be known of it without launching it.
func inspectAMI(ctx context.Context, id string, o Options) (*Report, error) {
	cfg, err := amazon.LoadConfig(ctx, o.AWS)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: AWS configuration: %w", id, err)
	}
	im, err := amazon.New(cfg).Image(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	rep := &Report{
		Kind: KindAMI, Ref: id, Digest: im.ID,
		AMI:    &AMI{Name: im.Name, State: im.State, Architecture: im.Architecture, Region: im.Region, Snapshots: im.Snapshots},
		Source: "the AMI's tags only: its receipts and SBOMs are inside its snapshots (launch it and run pipbake verify, or inspect the OCI image of the same bake)",
	}
	if !im.Created.IsZero() {
		rep.Created = im.Created.UTC().Format(time.RFC3339)
	}
	applyTags(rep, im.Tags)
	if !im.IsRelease {
		rep.Notes = append(rep.Notes, "the AMI has no pipbake:family and pipbake:release tags: it is not a pipbake release")
	}
	return rep, nil
}
