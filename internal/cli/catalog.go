//go:build !pipbake_agent

package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/registry"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
)

// catalogMore is what the catalog commands' help says of the catalog.
const catalogMore = `The release catalog: images tagged pipbake:family and pipbake:release (by
the pipbake-release post-processor, or by hand) are releases of a family.
AWS credentials and region come from the AWS default chain (environment,
profiles, SSO, roles); --profile and --region choose, --endpoint-url (or
AWS_ENDPOINT_URL) points at an emulator. Registry credentials come from
the docker config and, for ECR, from the AWS chain.`

var imagesHelp = commandHelp{
	name: "images",
	does: "list a family's releases (AMIs) or a repository's images, with what uses them and what is revoked",
	forms: []string{
		"--family F [--region R ...] [--owner ID ...] [--json]",
		"--repo REF [--family F] [--json]",
	},
	example: "pipbake images --family api-node --region us-east-1 --region eu-west-1",
	more:    catalogMore,
}

var promoteHelp = commandHelp{
	name: "promote",
	does: "point autoscaling groups (a launch template version, an instance refresh) or a registry tag at a release",
	forms: []string{
		"(--asg NAME ... | --asg-tag KEY=VALUE) (--release ID | --image AMI) [--dry-run] [--wait] [--json] [refresh flags]",
		"--repo REF --release ID|sha256:... --tag TAG [--dry-run] [--force] [--json]",
	},
	example: "pipbake promote --asg web --release 2026.11.26 --checkpoints 20,50,100 --alarm web-5xx --wait",
	more: `Refresh flags: --no-refresh, --min-healthy, --warmup, --checkpoints,
--checkpoint-delay, --bake-time, --alarm, --no-auto-rollback,
--cancel-refresh. A revoked release is refused unless --force.

` + catalogMore,
}

var catalogRollbackHelp = commandHelp{
	name: "rollback",
	does: "switch autoscaling groups or a registry tag back to the release they ran before",
	forms: []string{
		"(--asg NAME ... | --asg-tag KEY=VALUE) [--to ID|AMI] [--dry-run] [--wait] [--json] [refresh flags as promote]",
		"--repo REF --tag TAG [--to ID|sha256:...] [--dry-run] [--json]",
	},
	example: "pipbake rollback --asg web --dry-run",
	more: `rollback goes back to what the group launched before the release it runs
(the launch template versions pipbake made record it), passing over revoked
releases; again, it goes further back.

` + catalogMore,
}

var pruneHelp = commandHelp{
	name:    "prune",
	does:    "delete old releases (AMIs and snapshots, or a repository's images), keeping the newest N and every one in use",
	forms:   []string{"--family F --keep N [--region R] [--dry-run | --yes] [--json]", "--repo REF [--family F] --keep N [--dry-run | --yes] [--json]"},
	example: "pipbake prune --family api-node --keep 5 --yes",
	more:    catalogMore,
}

// awsFlags are the flags every AWS catalog command takes.
type awsFlags struct {
	regions     listFlag
	profile     string
	endpoint    string
	maxAttempts int
	owners      listFlag
}

func (a *awsFlags) add(fs *flag.FlagSet, multiRegion bool) {
	help := "AWS `region` (default: the AWS chain's)"
	if multiRegion {
		help += "; repeat for several"
	}
	fs.Var(&a.regions, "region", help)
	fs.StringVar(&a.profile, "profile", "", "AWS shared config `profile`")
	fs.StringVar(&a.endpoint, "endpoint-url", "", "AWS endpoint `URL` (an emulator); default AWS_ENDPOINT_URL or AWS")
	fs.IntVar(&a.maxAttempts, "max-attempts", amazon.DefaultMaxAttempts, "attempts per AWS call; throttling and transient errors are retried with backoff")
	fs.Var(&a.owners, "owner", "image `owner` (account id, self, amazon) whose images count; repeatable (default self)")
}

func (a *awsFlags) catalog(ctx context.Context, region string) (*amazon.Catalog, error) {
	cfg, err := amazon.LoadConfig(ctx, amazon.Options{Region: region, Profile: a.profile, Endpoint: a.endpoint, MaxAttempts: a.maxAttempts})
	if err != nil {
		return nil, err
	}
	c := amazon.New(cfg)
	c.Owners = a.owners
	if s := os.Getenv("PIPBAKE_REFRESH_POLL"); s != "" {
		if d, err := time.ParseDuration(s); err == nil && d > 0 {
			c.PollInterval = d
		}
	}
	return c, nil
}

func (a *awsFlags) region() string {
	if len(a.regions) > 0 {
		return a.regions[len(a.regions)-1]
	}
	return ""
}

// IsCatalogRollback reports whether rollback's arguments name an
// autoscaling group or a repository (the catalog's rollback) rather than a
// local release root.
func IsCatalogRollback(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		name := strings.TrimLeft(a, "-")
		if a == name {
			continue
		}
		name, _, _ = strings.Cut(name, "=")
		if name == "asg" || name == "asg-tag" || name == "repo" {
			return true
		}
	}
	return false
}

func registryCatalog(ctx context.Context, repo string) (*registry.Catalog, error) {
	return registry.New(repo, remote.WithAuthFromKeychain(ociimage.Keychain(ctx)))
}

func cmdImages(ctx context.Context, s stdio, args []string) error {
	fs := imagesHelp.flags(s)
	var af awsFlags
	af.add(fs.FlagSet, true)
	family := fs.String("family", "", "the image `family` (pipbake:family)")
	repo := fs.String("repo", "", "a registry `repository` (host/path) instead of AMIs")
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *repo != "" {
		c, err := registryCatalog(ctx, *repo)
		if err != nil {
			return usageErr("images: %v", err)
		}
		list, err := c.Images(ctx)
		if err != nil {
			return err
		}
		if *family != "" {
			list = registry.Releases(list, *family)
		}
		if *asJSON {
			return printJSON(s.stdout, list)
		}
		printRegistryImages(s.stdout, c.Repo.String(), list)
		return nil
	}
	if *family == "" {
		return usageErr("images: --family or --repo is required")
	}
	regions := []string(af.regions)
	if len(regions) == 0 {
		regions = []string{""}
	}
	var all []amazon.Image
	for _, r := range regions {
		c, err := af.catalog(ctx, r)
		if err != nil {
			return err
		}
		list, err := c.Images(ctx, *family)
		if err != nil {
			return err
		}
		if *asJSON {
			all = append(all, list...)
			continue
		}
		printImages(s.stdout, *family, c.Region, list)
	}
	if *asJSON {
		if all == nil {
			all = []amazon.Image{}
		}
		return printJSON(s.stdout, all)
	}
	return nil
}

func printImages(out io.Writer, family, region string, list []amazon.Image) {
	if len(list) == 0 {
		fmt.Fprintf(out, "%s: no releases of %s\n", region, family)
		return
	}
	fmt.Fprintf(out, "%s: %d releases of %s, oldest first\n", region, len(list), family)
	rows := [][]string{{"RELEASE", "IMAGE", "STATE", "CREATED", "ARCH", "SETS"}}
	for _, im := range list {
		rows = append(rows, []string{im.Release.Release, im.ID, im.State, im.Created.Format("2006-01-02T15:04:05Z"), im.Architecture, im.Release.Sets})
	}
	widths := columnWidths(rows)
	for i, row := range rows {
		fmt.Fprintf(out, "  %s\n", formatRow(row, widths))
		if i == 0 {
			continue
		}
		pad := strings.Repeat(" ", widths[0])
		im := list[i-1]
		if im.Revoked != nil {
			fmt.Fprintf(out, "  %s  REVOKED %s\n", pad, strings.TrimPrefix(im.Revoked.String(), "revoked "))
		}
		for _, r := range im.Runs {
			fmt.Fprintf(out, "  %s  %s\n", pad, r)
		}
		for _, u := range im.UsedBy {
			line := u.String()
			if u.Description != "" {
				line += ": " + u.Description
			}
			fmt.Fprintf(out, "  %s  used by %s\n", pad, line)
		}
	}
}

func printRegistryImages(out io.Writer, repo string, list []registry.Image) {
	if len(list) == 0 {
		fmt.Fprintf(out, "%s: no images\n", repo)
		return
	}
	fmt.Fprintf(out, "%s: %d images, releases first, oldest first\n", repo, len(list))
	rows := [][]string{{"FAMILY", "RELEASE", "DIGEST", "CREATED", "TAGS", "PLATFORMS"}}
	for _, im := range list {
		created := ""
		if !im.Created.IsZero() {
			created = im.Created.Format("2006-01-02T15:04:05Z")
		}
		rows = append(rows, []string{dash(im.Release.Family), dash(im.Release.Release), im.Digest, created, strings.Join(im.Tags, ","), strings.Join(im.Platforms, ",")})
	}
	widths := columnWidths(rows)
	for i, row := range rows {
		fmt.Fprintf(out, "  %s\n", formatRow(row, widths))
		if i > 0 && list[i-1].Revoked != nil {
			fmt.Fprintf(out, "  %s  REVOKED %s\n", strings.Repeat(" ", widths[0]), strings.TrimPrefix(list[i-1].Revoked.String(), "revoked "))
		}
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func columnWidths(rows [][]string) []int {
	w := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			if len(c) > w[i] {
				w[i] = len(c)
			}
		}
	}
	return w
}

func formatRow(row []string, widths []int) string {
	var b strings.Builder
	for i, c := range row {
		if i == len(row)-1 {
			b.WriteString(c)
			break
		}
		b.WriteString(c + strings.Repeat(" ", widths[i]-len(c)+2))
	}
	return strings.TrimRight(b.String(), " ")
}

// changeFlags are promote's and rollback's.
type changeFlags struct {
	awsFlags
	asgs                       listFlag
	asgTag, repo, tag, family  string
	dryRun, wait, noRefresh    bool
	cancelRefresh, allowFamily bool
	noAutoRollback, force      bool
	minHealthy, warmup         int
	checkpoints                string
	checkpointDelay, bakeTime  int
	alarms                     listFlag
	receipts                   string
	asJSON                     bool
}

func (c *changeFlags) add(fs *flag.FlagSet) {
	c.awsFlags.add(fs, false)
	fs.Var(&c.asgs, "asg", "an autoscaling group's `name`; repeat for several (changed one after another)")
	fs.StringVar(&c.asgTag, "asg-tag", "", "the autoscaling groups tagged `KEY=VALUE` (e.g. pipbake:family=api-node)")
	fs.StringVar(&c.repo, "repo", "", "a registry `repository` (host/path) whose --tag moves")
	fs.StringVar(&c.tag, "tag", "", "with --repo: the `tag` to move (e.g. prod)")
	fs.StringVar(&c.family, "family", "", "the `family` of --release when the group or tag runs none yet")
	fs.BoolVar(&c.dryRun, "dry-run", false, "print the plan and change nothing")
	fs.BoolVar(&c.wait, "wait", false, "follow each instance refresh until it ends; fail unless it succeeds")
	fs.BoolVar(&c.noRefresh, "no-refresh", false, "do not start an instance refresh (new instances get the image; running ones keep theirs)")
	fs.BoolVar(&c.cancelRefresh, "cancel-refresh", false, "cancel an instance refresh in progress instead of refusing")
	fs.IntVar(&c.minHealthy, "min-healthy", 90, "the refresh's minimum healthy `percentage`")
	fs.IntVar(&c.warmup, "warmup", -1, "the refresh's instance warmup in `seconds` (default: the group's)")
	fs.StringVar(&c.checkpoints, "checkpoints", "", "the refresh's checkpoint `percentages`, ascending, ending at 100 (e.g. 20,50,100)")
	fs.IntVar(&c.checkpointDelay, "checkpoint-delay", -1, "`seconds` the refresh waits at each checkpoint")
	fs.IntVar(&c.bakeTime, "bake-time", -1, "`seconds` the refresh waits, watching its alarms, after replacing every instance")
	fs.Var(&c.alarms, "alarm", "a CloudWatch alarm `name` that fails the refresh when it goes to ALARM; repeatable")
	fs.BoolVar(&c.noAutoRollback, "no-auto-rollback", false, "do not let AWS roll a failed refresh back (it does by default where it can)")
	fs.BoolVar(&c.force, "force", false, "promote (or rollback --to) a revoked release anyway")
	fs.StringVar(&c.receipts, "receipts", "", "a `folder` of receipts per release (DIR/<release>/<set>.json), for the plan's diff")
	fs.BoolVar(&c.asJSON, "json", false, "print the plan (and result) as JSON")
	fs.BoolVar(&c.allowFamily, "allow-family-change", false, "let promote move a group to another family")
}

func (c *changeFlags) options() (amazon.ChangeOptions, error) {
	o := amazon.ChangeOptions{
		Family: c.family, NoRefresh: c.noRefresh, MinHealthy: int32(c.minHealthy),
		CancelRefresh: c.cancelRefresh, AllowFamilyChange: c.allowFamily, NoAutoRollback: c.noAutoRollback,
		Force: c.force, Alarms: c.alarms, Receipts: c.receipts,
	}
	if c.warmup >= 0 {
		o.Warmup = aws.Int32(int32(c.warmup))
	}
	if c.checkpointDelay >= 0 {
		o.CheckpointDelay = aws.Int32(int32(c.checkpointDelay))
	}
	if c.bakeTime >= 0 {
		o.BakeTime = aws.Int32(int32(c.bakeTime))
	}
	if c.checkpoints != "" {
		for _, f := range strings.Split(c.checkpoints, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
			if err != nil {
				return o, usageErr("--checkpoints %q: give percentages separated by commas, e.g. 20,50,100", c.checkpoints)
			}
			o.Checkpoints = append(o.Checkpoints, int32(n))
		}
	}
	if c.noRefresh && (c.wait || len(c.alarms) > 0 || c.checkpoints != "" || c.bakeTime >= 0 || c.warmup >= 0) {
		return o, usageErr("--no-refresh starts no refresh: --wait, --alarm, --checkpoints, --bake-time and --warmup have nothing to act on")
	}
	return o, nil
}

// groups are the groups --asg and --asg-tag name.
func (c *changeFlags) groups(ctx context.Context, cat *amazon.Catalog, action string) ([]string, error) {
	groups := append([]string(nil), c.asgs...)
	if c.asgTag != "" {
		k, v, ok := strings.Cut(c.asgTag, "=")
		if !ok || k == "" {
			return nil, usageErr("%s: --asg-tag %q: give KEY=VALUE", action, c.asgTag)
		}
		tagged, err := cat.GroupsTagged(ctx, k, v)
		if err != nil {
			return nil, err
		}
		if len(tagged) == 0 {
			return nil, fmt.Errorf("refused, nothing was changed: %s: no autoscaling group in %s is tagged %s", action, cat.Region, c.asgTag)
		}
		groups = append(groups, tagged...)
	}
	return groups, nil
}

func (c *changeFlags) aws() bool { return len(c.asgs) > 0 || c.asgTag != "" }

func cmdPromote(ctx context.Context, s stdio, args []string) error {
	fs := promoteHelp.flags(s)
	var cf changeFlags
	cf.add(fs.FlagSet)
	rel := fs.String("release", "", "the release `id` to promote (with --repo also a digest sha256:...)")
	image := fs.String("image", "", "the `AMI` to promote")
	if err := fs.parse(args); err != nil {
		return err
	}
	switch {
	case cf.aws() && cf.repo != "":
		return usageErr("promote: give --asg (or --asg-tag) or --repo, not both")
	case cf.repo != "":
		if *rel == "" || cf.tag == "" {
			return usageErr("promote: --repo needs --release and --tag")
		}
		c, err := registryCatalog(ctx, cf.repo)
		if err != nil {
			return usageErr("promote: %v", err)
		}
		p, err := c.PlanPromote(ctx, *rel, cf.tag, cf.family, cf.force)
		return runRegistryPlan(ctx, s, c, p, err, cf)
	case !cf.aws():
		return usageErr("promote: --asg, --asg-tag or --repo is required")
	case (*rel == "") == (*image == ""):
		return usageErr("promote: give --release or --image")
	}
	o, err := cf.options()
	if err != nil {
		return err
	}
	o.Release, o.Image = *rel, *image
	return runRollout(ctx, s, "promote", cf, o)
}

// catalogRollbackFlagSet is the flag set of rollback --asg|--repo.
func catalogRollbackFlagSet(s stdio) (*flagSet, *changeFlags, *string) {
	fs := catalogRollbackHelp.flags(s)
	var cf changeFlags
	cf.add(fs.FlagSet)
	to := fs.String("to", "", "the release `id` (or AMI, or digest) to go back to (default: what it ran before)")
	return fs, &cf, to
}

// catalogRollback is rollback on the release catalog: --asg, --asg-tag,
// --repo.
var catalogRollback = variant{
	match: IsCatalogRollback,
	run:   cmdCatalogRollback,
	forms: catalogRollbackHelp.forms,
	flags: func(s stdio) *flagSet {
		fs, _, _ := catalogRollbackFlagSet(s)
		return fs
	},
	heading: "Flags with --asg, --asg-tag or --repo",
	helpArg: "--asg=x",
}

func cmdCatalogRollback(ctx context.Context, s stdio, args []string) error {
	fs, cfp, to := catalogRollbackFlagSet(s)
	if err := fs.parse(args); err != nil {
		return err
	}
	cf := *cfp
	switch {
	case cf.aws() && cf.repo != "":
		return usageErr("rollback: give --asg (or --asg-tag) or --repo, not both")
	case cf.repo != "":
		if cf.tag == "" {
			return usageErr("rollback: --repo needs --tag")
		}
		c, err := registryCatalog(ctx, cf.repo)
		if err != nil {
			return usageErr("rollback: %v", err)
		}
		p, err := c.PlanRollback(ctx, cf.tag, *to, cf.force)
		return runRegistryPlan(ctx, s, c, p, err, cf)
	}
	o, err := cf.options()
	if err != nil {
		return err
	}
	o.To = *to
	return runRollout(ctx, s, "rollback", cf, o)
}

// runRollout plans the change for every group, prints the plan and, unless
// --dry-run, executes that same plan, group by group.
func runRollout(ctx context.Context, s stdio, action string, cf changeFlags, o amazon.ChangeOptions) error {
	out := s.stdout
	c, err := cf.catalog(ctx, cf.region())
	if err != nil {
		return err
	}
	groups, err := cf.groups(ctx, c, action)
	if err != nil {
		return err
	}
	r, err := c.PlanRollout(ctx, action, groups, o)
	if err != nil {
		if amazon.IsRefusal(err) {
			return fmt.Errorf("refused, nothing was changed: %w", err)
		}
		return err
	}
	for _, p := range r.Plans {
		for _, w := range p.Warnings {
			fmt.Fprintf(s.stderr, "pipbake: WARNING: %s\n", w)
		}
	}
	var plan any = r
	if len(r.Plans) == 1 {
		plan = r.Plans[0]
	}
	if cf.asJSON && cf.dryRun {
		return printJSON(s.stdout, plan)
	}
	if !cf.asJSON {
		fmt.Fprint(out, r.String())
	}
	if cf.dryRun {
		fmt.Fprintln(out, "dry run: nothing was changed")
		return nil
	}
	progress := func(s string) {
		if !cf.asJSON {
			fmt.Fprintln(out, "  "+s)
		}
	}
	results, err := c.ExecuteRollout(ctx, r, amazon.ExecOptions{Wait: cf.wait, Progress: progress})
	if cf.asJSON {
		var doc any = map[string]any{"rollout": r, "results": results}
		if len(r.Plans) == 1 {
			doc = map[string]any{"plan": r.Plans[0], "result": results[0]}
		}
		if jerr := printJSON(s.stdout, doc); jerr != nil && err == nil {
			err = jerr
		}
	}
	if err != nil {
		return err
	}
	if !cf.asJSON {
		for i, res := range results {
			p := r.Plans[i]
			if res.Version == res.Target {
				fmt.Fprintf(out, "%s: group %s launches version %d: %s\n", p.Action, p.Group, res.Version, p.To.Label())
			} else {
				fmt.Fprintf(out, "%s: group %s: instance refresh %s started; when it succeeds the group launches version %d: %s (--wait follows it)\n",
					p.Action, p.Group, res.Refresh.ID, res.Target, p.To.Label())
			}
		}
	}
	return nil
}

func runRegistryPlan(ctx context.Context, s stdio, c *registry.Catalog, p *registry.Plan, err error, cf changeFlags) error {
	out := s.stdout
	if err != nil {
		var r *registry.Refusal
		if errors.As(err, &r) {
			return fmt.Errorf("refused, nothing was changed: %w", err)
		}
		return err
	}
	if cf.asJSON {
		if err := printJSON(s.stdout, p); err != nil {
			return err
		}
	} else {
		fmt.Fprint(out, p.String())
	}
	if cf.dryRun {
		if !cf.asJSON {
			fmt.Fprintln(out, "dry run: nothing was changed")
		}
		return nil
	}
	if err := c.Execute(ctx, p); err != nil {
		return err
	}
	if !cf.asJSON {
		fmt.Fprintf(out, "%s: %s:%s points at %s\n", p.Action, p.Repo, p.Tag, p.To.Label())
	}
	return nil
}

// pruneRepo is prune --repo: the registry's releases.
func pruneRepo(ctx context.Context, s stdio, repo, family string, keep int, yes, asJSON bool) error {
	out := s.stdout
	c, err := registryCatalog(ctx, repo)
	if err != nil {
		return err
	}
	p, err := c.PlanPrune(ctx, family, keep)
	if err != nil {
		return err
	}
	if asJSON {
		if err := printJSON(s.stdout, p); err != nil {
			return err
		}
	} else {
		fmt.Fprint(out, p.String())
	}
	if !yes {
		if !asJSON && len(p.Delete) > 0 {
			fmt.Fprintln(out, "dry run: nothing was deleted; pass --yes to delete")
		}
		return nil
	}
	deleted, err := c.ExecutePrune(ctx, p, func(line string) {
		if !asJSON {
			fmt.Fprintln(out, "  "+line)
		}
	})
	if err != nil {
		return err
	}
	if !asJSON {
		fmt.Fprintf(out, "prune: %d releases deleted from %s\n", len(deleted), p.Repo)
	}
	return nil
}

func cmdPrune(ctx context.Context, s stdio, args []string) error {
	out := s.stdout
	fs := pruneHelp.flags(s)
	var af awsFlags
	af.add(fs.FlagSet, false)
	family := fs.String("family", "", "the image `family`")
	repo := fs.String("repo", "", "a registry `repository` (host/path) instead of AMIs")
	keep := fs.Int("keep", 0, "keep the newest `N` releases (and every image in use)")
	dryRun := fs.Bool("dry-run", false, "print what would be deleted (the default without --yes)")
	yes := fs.Bool("yes", false, "deregister the images and delete their snapshots (with --repo: delete the manifests)")
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	if err := fs.parse(args); err != nil {
		return err
	}
	switch {
	case *family == "" && *repo == "":
		return usageErr("prune: --family or --repo is required")
	case *keep < 1:
		return usageErr("prune: --keep N (at least 1) is required")
	case *dryRun && *yes:
		return usageErr("prune: give --dry-run or --yes, not both")
	}
	if *repo != "" {
		return pruneRepo(ctx, s, *repo, *family, *keep, *yes, *asJSON)
	}
	c, err := af.catalog(ctx, af.region())
	if err != nil {
		return err
	}
	p, err := c.PlanPrune(ctx, *family, *keep)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := printJSON(s.stdout, p); err != nil {
			return err
		}
	} else {
		fmt.Fprint(out, p.String())
	}
	if !*yes {
		if !*asJSON && len(p.Delete) > 0 {
			fmt.Fprintln(out, "dry run: nothing was deleted; pass --yes to delete")
		}
		return nil
	}
	deleted, err := c.ExecutePrune(ctx, p, func(s string) {
		if !*asJSON {
			fmt.Fprintln(out, "  "+s)
		}
	})
	if err != nil {
		return err
	}
	if !*asJSON {
		fmt.Fprintf(out, "prune: %d images deleted\n", len(deleted))
	}
	return nil
}
