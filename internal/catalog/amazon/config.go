package amazon

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Options choose the account, region and endpoint. Everything left empty
// comes from the AWS default chain: environment (AWS_REGION, AWS_PROFILE,
// AWS_ENDPOINT_URL, keys), shared config and credentials files, SSO,
// container and instance roles.
type Options struct {
	Region   string
	Profile  string
	Endpoint string // e.g. an emulator's http://127.0.0.1:PORT
	// Credentials override the chain (tests).
	Credentials aws.CredentialsProvider
	// MaxAttempts is the SDK retryer's attempts per call (throttling and
	// transient errors are retried with exponential backoff and jitter);
	// default 8.
	MaxAttempts int
	// MaxBackoff caps the wait between attempts; default 20s.
	MaxBackoff time.Duration
}

// DefaultMaxAttempts is Options.MaxAttempts' default.
const DefaultMaxAttempts = 8

// LoadConfig resolves o into an aws.Config with the standard retryer.
func LoadConfig(ctx context.Context, o Options) (aws.Config, error) {
	attempts, backoff := o.MaxAttempts, o.MaxBackoff
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	if backoff <= 0 {
		backoff = 20 * time.Second
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = attempts
				so.MaxBackoff = backoff
				so.Backoff = retry.NewExponentialJitterBackoff(backoff)
			})
		}),
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	if o.Endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(o.Endpoint))
	}
	if o.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(o.Credentials))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("no AWS region: give --region, or set AWS_REGION or a profile's region")
	}
	return cfg, nil
}
