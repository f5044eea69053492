package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// s3Source is a bucket prefix holding wheels, flat or in project folders
// (every .whl and sdist under the prefix is found). It is listed once per
// fetch through aws-sdk-go-v2 with the default credential chain
// (environment, shared config and credentials files, SSO, web identity,
// container and instance roles).
type s3Source struct {
	f              *fetcher
	bucket, prefix string // prefix is "" or ends in "/"

	once   sync.Once
	client *s3.Client
	links  map[string][]link
	err    error
}

func (f *fetcher) newS3Source(spec string) (*s3Source, error) {
	rest := strings.TrimPrefix(spec, "s3://")
	bucket, prefix, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return nil, fmt.Errorf("source %s: want s3://BUCKET or s3://BUCKET/PREFIX", spec)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &s3Source{f: f, bucket: bucket, prefix: prefix}, nil
}

func (s *s3Source) String() string { return "s3://" + s.bucket + "/" + s.prefix }

// endpoint is the S3-compatible endpoint in use: Options.S3Endpoint, or
// the SDK's AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL.
func (f *fetcher) s3Endpoint() string {
	if f.opts.S3Endpoint != "" {
		return f.opts.S3Endpoint
	}
	if e := os.Getenv("AWS_ENDPOINT_URL_S3"); e != "" {
		return e
	}
	return os.Getenv("AWS_ENDPOINT_URL")
}

// s3Client makes a client for region ("" = the configured one, or
// us-east-1 when none is).
func (f *fetcher) s3Client(ctx context.Context, region string) (*s3.Client, error) {
	f.awsOnce.Do(func() {
		var opts []func(*config.LoadOptions) error
		if f.opts.HTTPClient != nil {
			// Otherwise the SDK's own client, which honours AWS_CA_BUNDLE.
			opts = append(opts, config.WithHTTPClient(f.opts.HTTPClient))
		}
		f.awsCfg, f.awsErr = config.LoadDefaultConfig(ctx, opts...)
		if f.awsErr == nil && f.awsCfg.Region == "" {
			f.awsCfg.Region = "us-east-1"
		}
	})
	if f.awsErr != nil {
		return nil, &sourceError{kind: AccessDenied, msg: "load the AWS configuration", err: f.awsErr}
	}
	endpoint := f.s3Endpoint()
	return s3.NewFromConfig(f.awsCfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true // S3-compatible stores rarely resolve bucket.host names
		}
		if region != "" {
			o.Region = region
		}
		o.Retryer = aws.NopRetryer{} // fetch retries, the same way for every source
		o.DisableLogOutputChecksumValidationSkipped = true
	}), nil
}

func (s *s3Source) list(ctx context.Context, project string) ([]link, error) {
	s.once.Do(func() { s.client, s.links, s.err = s.listAll(ctx) })
	return s.links[project], s.err
}

// listAll lists the prefix, following the bucket to its region when the
// configured one is wrong.
func (s *s3Source) listAll(ctx context.Context) (*s3.Client, map[string][]link, error) {
	client, err := s.f.s3Client(ctx, "")
	if err != nil {
		return nil, nil, err
	}
	links, err := s.listWith(ctx, client)
	var re *awshttp.ResponseError
	if err != nil && errors.As(err, &re) && re.Response != nil {
		if region := re.Response.Header.Get("X-Amz-Bucket-Region"); region != "" && region != s.f.awsCfg.Region {
			if client, err = s.f.s3Client(ctx, region); err != nil {
				return nil, nil, err
			}
			links, err = s.listWith(ctx, client)
		}
	}
	if err != nil {
		return nil, nil, s.classify(err, s.String())
	}
	return client, links, nil
}

func (s *s3Source) listWith(ctx context.Context, client *s3.Client) (map[string][]link, error) {
	links := map[string][]link{}
	var token *string
	for {
		var out *s3.ListObjectsV2Output
		err := withRetry(ctx, func() error {
			var err error
			out, err = client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
				Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix), ContinuationToken: token,
			})
			return s.asStatus(err, s.String())
		}, s.f.retryNote(s.String()))
		if err != nil {
			return nil, err
		}
		for _, obj := range out.Contents {
			key := aws.ToString(obj.Key)
			if l, ok := newLink(path.Base(key), "s3://"+s.bucket+"/"+key); ok {
				l.size = aws.ToInt64(obj.Size)
				links[l.project()] = append(links[l.project()], l)
			}
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			return links, nil
		}
		token = out.NextContinuationToken
	}
}

func (s *s3Source) open(ctx context.Context, l link) (io.ReadCloser, int64, error) {
	rctx, cancel := context.WithCancelCause(ctx)
	key := strings.TrimPrefix(l.loc, "s3://"+s.bucket+"/")
	out, err := s.client.GetObject(rctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		cancel(context.Canceled)
		return nil, 0, s.classify(s.asStatus(err, l.loc), l.loc)
	}
	size := int64(-1)
	if out.ContentLength != nil {
		size = *out.ContentLength
	}
	return newStallReader(rctx, cancel, out.Body), size, nil
}

// s3Access are the error codes that mean the credentials do not allow it.
var s3Access = map[string]bool{
	"AccessDenied": true, "InvalidAccessKeyId": true, "SignatureDoesNotMatch": true,
	"ExpiredToken": true, "InvalidToken": true, "AllAccessDisabled": true, "AccountProblem": true,
}

// asStatus turns an S3 error response into a *statusError (so 5xx and
// SlowDown are retried like HTTP), leaving transport errors as they are.
func (s *s3Source) asStatus(err error, what string) error {
	var re *awshttp.ResponseError
	if err == nil || !errors.As(err, &re) || re.Response == nil {
		return err
	}
	st := &statusError{url: what, code: re.HTTPStatusCode(), status: fmt.Sprintf("%d %s", re.HTTPStatusCode(), http.StatusText(re.HTTPStatusCode())), retryAfter: -1}
	if h := re.Response.Header.Get("Retry-After"); h != "" {
		st.retryAfter = parseRetryAfter(h, time.Now())
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		st.detail = ae.ErrorCode()
		if msg := ae.ErrorMessage(); msg != "" {
			st.detail += ": " + msg
		}
	}
	return &s3Error{statusError: st, code: errorCode(err), cause: err}
}

// s3Error is an S3 error response.
type s3Error struct {
	*statusError
	code  string
	cause error
}

func (e *s3Error) Unwrap() []error { return []error{e.statusError, e.cause} }

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// classify names what an S3 failure means for the source.
func (s *s3Source) classify(err error, what string) error {
	var se *sourceError
	if errors.As(err, &se) {
		return err
	}
	var e *s3Error
	if errors.As(err, &e) {
		switch {
		case s3Access[e.code] || e.code == "" && (e.statusError.code == 401 || e.statusError.code == 403):
			return &sourceError{kind: AccessDenied, msg: "S3 access denied to the AWS credentials in use", err: e.statusError}
		case e.code == "NoSuchBucket":
			return &sourceError{kind: NotFound, msg: "S3 bucket " + s.bucket + " does not exist", err: e.statusError}
		}
		if e.statusError.code >= 500 || e.statusError.code == 429 {
			return &sourceError{kind: Unreachable, msg: "S3 keeps failing", err: e.statusError}
		}
		return e.statusError
	}
	if strings.Contains(err.Error(), "retrieve credentials") || strings.Contains(err.Error(), "no EC2 IMDS role found") {
		return &sourceError{kind: AccessDenied, msg: "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with a role", err: err}
	}
	host := "S3"
	if ep := s.f.s3Endpoint(); ep != "" {
		host = ep
	}
	return classifyNet(err, host)
}
