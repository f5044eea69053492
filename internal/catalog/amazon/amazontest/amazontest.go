// Package amazontest is TEST-ONLY: one moto_server per test binary
// (started from TestMain with Main), a fresh asgfront per test in front of
// it, aws-sdk-go-v2 clients pointed at the front, and fixtures: images baked
// from moto's own AMIs, launch templates, autoscaling groups.
//
//	func TestMain(m *testing.M) { os.Exit(amazontest.Main(m)) }
//
//	func TestX(t *testing.T) {
//		e := amazontest.New(t) // skips (or fails under PIPBAKE_E2E_REQUIRED) without moto
//		ami := e.Bake(t, "api", "1", "x86_64")
//		...
//	}
package amazontest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/asgfront"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/mototest"
)

// Region is the region tests use.
const Region = mototest.Region

var (
	motoURL string
	motoLog string   // moto_server's output, shown when a test fails
	motoErr string   // why there is no moto
	base    sync.Map // arch -> AMI id
)

// Main starts moto_server (when installed, and not under -short), runs
// the tests and stops it.
func Main(m *testing.M) int {
	if !flag.Parsed() {
		flag.Parse() // for testing.Short
	}
	if testing.Short() {
		motoErr = "-short"
		return m.Run()
	}
	if mototest.Binary() == "" {
		motoErr = mototest.NotInstalled
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "pipbake-moto-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	moto, err := mototest.Launch(dir, mototest.Options{})
	if err != nil {
		// A moto that is installed but does not start is a failure, not a
		// skip.
		fmt.Fprintf(os.Stderr, "amazontest: %v\n", err)
		return 1
	}
	motoURL, motoLog = moto.Endpoint, moto.LogPath
	code := m.Run()
	moto.Stop()
	return code
}

// MotoURL is the shared moto_server's endpoint; it skips the test (or
// fails it under PIPBAKE_E2E_REQUIRED) when there is none, and skips it
// under -short.
func MotoURL(tb testing.TB) string {
	tb.Helper()
	testenv.SkipShort(tb, "uses moto_server")
	if motoURL == "" {
		if motoErr == "" {
			tb.Fatal("amazontest: call amazontest.Main from the package's TestMain")
		}
		testenv.Missing(tb, "%s", motoErr)
	}
	return motoURL
}

// Env is one test's view: a front over the shared moto, and clients.
type Env struct {
	Front   *asgfront.Front
	Config  aws.Config
	Catalog *amazon.Catalog
	EC2     *ec2.Client
	ASG     *autoscaling.Client
}

// New starts a front for the test and makes clients for it, with the
// standard retryer (5 attempts, backoff up to 20ms) and a 5ms refresh poll.
func New(tb testing.TB) *Env {
	tb.Helper()
	front := asgfront.Start(tb, MotoURL(tb))
	logMotoOnFailure(tb)
	cfg, err := amazon.LoadConfig(context.Background(), amazon.Options{
		Region: Region, Endpoint: front.URL, MaxAttempts: 5, MaxBackoff: 20 * time.Millisecond,
		Credentials: credentials.NewStaticCredentialsProvider(mototest.AccessKey, mototest.SecretKey, ""),
	})
	if err != nil {
		tb.Fatal(err)
	}
	c := amazon.New(cfg)
	c.PollInterval = 5 * time.Millisecond
	return &Env{Front: front, Config: cfg, Catalog: c, EC2: c.EC2, ASG: c.ASG}
}

// logMotoOnFailure shows the end of moto_server's output when the test
// fails: a 500 from moto says why only there.
func logMotoOnFailure(tb testing.TB) {
	st, err := os.Stat(motoLog)
	if err != nil {
		return
	}
	from := st.Size()
	tb.Cleanup(func() {
		if !tb.Failed() {
			return
		}
		b, err := os.ReadFile(motoLog)
		if err != nil || int64(len(b)) <= from {
			return
		}
		b = b[from:]
		if len(b) > 8<<10 {
			b = b[len(b)-8<<10:]
		}
		tb.Logf("moto_server's output during the test (the end):\n%s", b)
	})
}

// Environ is the environment for a pipbake process that talks to this
// Env: endpoint, region and test credentials (and no AWS profile).
func (e *Env) Environ() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + e.Front.URL, "AWS_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=" + mototest.AccessKey, "AWS_SECRET_ACCESS_KEY=" + mototest.SecretKey,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
	}
}

// BaseAMI returns one of moto's own AMIs of the architecture ("x86_64",
// "arm64"): images made from instances of it have that architecture.
func (e *Env) BaseAMI(tb testing.TB, arch string) string {
	tb.Helper()
	if id, ok := base.Load(arch); ok {
		return id.(string)
	}
	out, err := e.EC2.DescribeImages(context.Background(), &ec2.DescribeImagesInput{
		Owners: []string{"amazon"}, Filters: []types.Filter{{Name: aws.String("architecture"), Values: []string{arch}}},
	})
	if err != nil {
		tb.Fatalf("find a base AMI: %v", err)
	}
	for _, im := range out.Images {
		if string(im.Architecture) == arch && im.State == types.ImageStateAvailable {
			base.Store(arch, aws.ToString(im.ImageId))
			return aws.ToString(im.ImageId)
		}
	}
	tb.Fatalf("moto has no %s AMI", arch)
	return ""
}

var seq struct {
	sync.Mutex
	n int
}

// Unique returns prefix with a number no other call in this process got.
func Unique(prefix string) string {
	seq.Lock()
	defer seq.Unlock()
	seq.n++
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid()%10000, seq.n)
}

// Image makes an AMI of the architecture the way a builder does (an
// instance, CreateImage, the instance terminated) and returns its id.
func (e *Env) Image(tb testing.TB, arch string) string {
	tb.Helper()
	ctx := context.Background()
	run, err := e.EC2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(e.BaseAMI(tb, arch)), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: types.InstanceTypeT3Micro})
	if err != nil {
		tb.Fatalf("run instance: %v", err)
	}
	iid := aws.ToString(run.Instances[0].InstanceId)
	img, err := e.EC2.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String(iid), Name: aws.String(Unique("image"))})
	if err != nil {
		tb.Fatalf("create image: %v", err)
	}
	if _, err := e.EC2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{iid}}); err != nil {
		tb.Fatalf("terminate %s: %v", iid, err)
	}
	return aws.ToString(img.ImageId)
}

// Bake makes an image and tags it (and its snapshot) as release rel of
// family, through the catalog's TagRelease.
func (e *Env) Bake(tb testing.TB, family, rel, arch string) string {
	tb.Helper()
	id := e.Image(tb, arch)
	r := catalog.Release{Family: family, Release: rel, Sets: "api@" + rel, LockSHA256: strings.Repeat("a", 64), ReceiptSHA256: strings.Repeat("b", 64)}
	if _, err := e.Catalog.TagRelease(context.Background(), id, r); err != nil {
		tb.Fatal(err)
	}
	return id
}

// Template makes a launch template whose version 1 launches image, and
// returns its id.
func (e *Env) Template(tb testing.TB, name, image string) string {
	tb.Helper()
	out, err := e.EC2.CreateLaunchTemplate(context.Background(), &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(name),
		LaunchTemplateData: &types.RequestLaunchTemplateData{ImageId: aws.String(image), InstanceType: types.InstanceTypeT3Micro},
	})
	if err != nil {
		tb.Fatalf("create launch template %s: %v", name, err)
	}
	return aws.ToString(out.LaunchTemplate.LaunchTemplateId)
}

// Group makes an autoscaling group on a launch template version
// ("$Default", "$Latest" or a number) with desired instances.
func (e *Env) Group(tb testing.TB, name, templateID, version string, desired int32) {
	tb.Helper()
	_, err := e.ASG.CreateAutoScalingGroup(context.Background(), &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name),
		LaunchTemplate:       &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(templateID), Version: aws.String(version)},
		MinSize:              aws.Int32(0), MaxSize: aws.Int32(desired + 1), DesiredCapacity: aws.Int32(desired),
		AvailabilityZones: []string{Region + "a"},
	})
	if err != nil {
		tb.Fatalf("create autoscaling group %s: %v", name, err)
	}
}

// GroupImage returns the image the group's launch template version holds.
func (e *Env) GroupImage(tb testing.TB, name string) (version int64, image string) {
	tb.Helper()
	g, err := e.Catalog.Group(context.Background(), name)
	if err != nil {
		tb.Fatal(err)
	}
	return g.Version, g.Image
}
