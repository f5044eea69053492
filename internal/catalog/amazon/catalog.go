// Package amazon is the release catalog of AMIs in one region: a family's
// images in release order, what uses each (launch template versions,
// autoscaling groups, instances, launch configurations) and which groups
// ran each, when; promotion and rollback of autoscaling groups through
// their launch templates, with instance refreshes pinned to the new
// version; revocation; pruning. Everything goes through aws-sdk-go-v2.
//
// A group's history is its launch template versions: each version
// pipbake makes records, in its description, the version it replaced and,
// for a rollback, the version it restores (Record, History). Rollback goes
// back through that history, not through release ids.
//
// Every change is planned first (PlanPromote, PlanRollback, PlanRollout,
// PlanRevoke, PlanPrune): the plan is what --dry-run prints and what
// Execute carries out, phase by phase, reporting exactly how far it got
// when one fails (PartialError, RolloutError).
package amazon

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
)

// Catalog is one region's catalog.
type Catalog struct {
	Region string
	EC2    *ec2.Client
	ASG    *autoscaling.Client
	// CW reads the CloudWatch alarms a refresh watches.
	CW *cloudwatch.Client
	// Owners restrict which images count (DescribeImages' Owners);
	// default "self", so an image shared by someone else never becomes a
	// release of your family.
	Owners []string
	// PollInterval is how often a refresh's progress is read while
	// waiting; default 15s.
	PollInterval time.Duration
	// Now is the clock for records; default time.Now.
	Now func() time.Time
}

// New makes a catalog for cfg's region.
func New(cfg aws.Config) *Catalog {
	return &Catalog{
		Region: cfg.Region,
		EC2:    ec2.NewFromConfig(cfg),
		ASG:    autoscaling.NewFromConfig(cfg),
		// CloudWatch serves both the awsQuery and the rpcv2Cbor protocols;
		// the SDK defaults to the latter, which emulators (moto) do not
		// speak yet. awsQuery works with both.
		CW: cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) {
			o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801)
		}),
	}
}

func (c *Catalog) owners() []string {
	if len(c.Owners) > 0 {
		return c.Owners
	}
	return []string{"self"}
}

func (c *Catalog) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

func (c *Catalog) poll() time.Duration {
	if c.PollInterval > 0 {
		return c.PollInterval
	}
	return 15 * time.Second
}
