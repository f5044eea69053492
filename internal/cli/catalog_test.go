//go:build !pipbake_agent

package cli

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon/amazontest"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
)

func TestMain(m *testing.M) { os.Exit(amazontest.Main(m)) }

func awsEnv(t *testing.T, e *amazontest.Env) {
	for _, kv := range e.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("PIPBAKE_REFRESH_POLL", "5ms")
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	s, code, err := pipbake(t, args...)
	if code != 0 {
		t.Fatalf("pipbake %s: exit %d: %v\n%s", strings.Join(args, " "), code, err, s)
	}
	return s
}

func has(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

func TestCatalogCommandsOnAnAutoscalingGroup(t *testing.T) {
	e := amazontest.New(t)
	awsEnv(t, e) // AWS_ENDPOINT_URL, AWS_REGION and keys, as a user would set them
	family := amazontest.Unique("cli")
	ami := map[string]string{}
	for _, r := range []string{"1", "2", "3"} {
		ami[r] = e.Bake(t, family, r, "x86_64")
	}
	lt := e.Template(t, amazontest.Unique("lt"), ami["1"])
	group := amazontest.Unique("web")
	e.Group(t, group, lt, "$Default", 1)

	s := mustRun(t, "images", "--family", family)
	has(t, "images", s, "us-east-1: 3 releases of "+family, "RELEASE  IMAGE", "1        "+ami["1"]+"  available", "used by autoscaling group "+group, "used by launch template")

	s = mustRun(t, "images", "--family", family, "--region", "us-east-1", "--region", "eu-west-1")
	has(t, "images in two regions", s, "us-east-1: 3 releases of "+family, "eu-west-1: no releases of "+family)

	s = mustRun(t, "promote", "--asg", group, "--release", "2", "--dry-run", "--warmup", "60")
	has(t, "promote --dry-run", s, "before: version 1, "+family+"@1 ("+ami["1"]+")", "after:  version 2, "+family+"@2 ("+ami["2"]+")",
		"min healthy 90%, warmup 60s", "no auto rollback: the group uses $Default", "dry run: nothing was changed")
	if _, im := e.GroupImage(t, group); im != ami["1"] {
		t.Fatal("--dry-run changed the group")
	}
	s = mustRun(t, "promote", "--asg", group, "--release", "2", "--wait")
	has(t, "promote", s, "created version 2", "Successful, 100% done, 1 of 1 instances replaced", "promote: group "+group+" launches version 2: "+family+"@2 ("+ami["2"]+")")
	// Without --wait: the refresh moves the group when it succeeds.
	s = mustRun(t, "promote", "--asg", group, "--release", "3", "--checkpoints", "50,100", "--checkpoint-delay", "10", "--bake-time", "30")
	has(t, "promote without --wait", s, "checkpoints 50%, 100% (10s each), bake 30s, auto rollback", "promote: group "+group+": instance refresh ", " started; when it succeeds the group launches version 3: "+family+"@3")
	waitRefreshes(t, e, group)
	if _, im := e.GroupImage(t, group); im != ami["3"] {
		t.Fatalf("after the refresh the group launches %s, want %s", im, ami["3"])
	}

	s = mustRun(t, "rollback", "--asg", group, "--dry-run", "--json")
	has(t, "rollback --dry-run --json", s, `"action": "rollback"`, `"new_version": 4`, `"switch": "refresh"`, `"min_healthy_percentage": 90`, `"desired_version": 4`, `"auto_rollback": true`, `"restores_version": 2`)
	s = mustRun(t, "rollback", "--asg", group, "--dry-run")
	has(t, "rollback --dry-run", s, "rollback autoscaling group", "after:  version 4, "+family+"@2 ("+ami["2"]+")", "why:    the group launched "+family+"@2")
	mustRun(t, "rollback", "--asg", group, "--wait")
	mustRun(t, "rollback", "--asg="+group, "--wait")
	if _, im := e.GroupImage(t, group); im != ami["1"] {
		t.Fatalf("after two rollbacks the group launches %s, want %s", im, ami["1"])
	}
	_, code, err := pipbake(t, "rollback", "--asg", group)
	if code != 1 || err == nil || !strings.Contains(err.Error(), "refused, nothing was changed: rollback "+group+": nothing to go back to") {
		t.Errorf("rollback from the start of the history: exit %d: %v", code, err)
	}

	s = mustRun(t, "images", "--family", family)
	has(t, "images", s, "ran on group "+group+" from ", "runs on group "+group+" since ", "pipbake rollback, from version 4, restores version 1")
	s = mustRun(t, "images", "--family", family, "--json")
	has(t, "images --json", s, `"kind": "launch-template-version"`, `"description": "pipbake rollback, from version 4, restores version 1: `+family+`@1`, `"runs": [`, `"current": true`)

	// Revoke 3: images shows it, promote refuses it, --force says so.
	s = mustRun(t, "revoke", "--family", family, "--release", "3", "--reason", "leaks memory", "--dry-run")
	has(t, "revoke --dry-run", s, "revoke "+family+"@3 in us-east-1", `pipbake:revoked="leaks memory"`, "dry run: nothing was changed")
	s = mustRun(t, "revoke", "--family", family, "--release", "3", "--reason", "leaks memory")
	has(t, "revoke", s, "revoke: "+family+"@3: 1 image(s) in us-east-1")
	s = mustRun(t, "images", "--family", family)
	has(t, "images after revoke", s, "REVOKED ", ": leaks memory")
	_, code, err = pipbake(t, "promote", "--asg", group, "--release", "3")
	if code != 1 || err == nil || !strings.Contains(err.Error(), "is revoked ") || !strings.Contains(err.Error(), "pass --force to promote it anyway") {
		t.Errorf("promote revoked: exit %d: %v", code, err)
	}
	s = mustRun(t, "promote", "--asg", group, "--release", "3", "--force", "--dry-run")
	has(t, "promote --force", s, "WARNING: PROMOTE TO A REVOKED RELEASE (--force)")
	mustRun(t, "unrevoke", "--family", family, "--release", "3")
	mustRun(t, "promote", "--asg", group, "--release", "3", "--dry-run")

	// Alarms are checked first; --no-refresh refuses refresh flags.
	_, code, err = pipbake(t, "promote", "--asg", group, "--release", "3", "--alarm", "no-such-alarm")
	if code != 1 || err == nil || !strings.Contains(err.Error(), `refused, nothing was changed: promote `+group+`: CloudWatch alarm "no-such-alarm" does not exist`) {
		t.Errorf("unknown alarm: exit %d: %v", code, err)
	}

	s = mustRun(t, "prune", "--family", family, "--keep", "1")
	has(t, "prune", s, "keep   "+family+"@3", "nothing to delete")
	e.Bake(t, family, "0", "x86_64")
	s = mustRun(t, "prune", "--family", family, "--keep", "1")
	has(t, "prune dry run", s, "delete "+family+"@0", "dry run: nothing was deleted; pass --yes to delete")
	s = mustRun(t, "prune", "--family", family, "--keep", "1", "--yes")
	has(t, "prune --yes", s, "deregistered "+family+"@0", "prune: 1 images deleted")

	// Bad input: exit 2 for usage, 1 with the cause for the rest.
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"promote", "--asg", group}, 2, "give --release or --image"},
		{[]string{"promote", "--asg", group, "--release", "1", "--image", "ami-1"}, 2, "give --release or --image"},
		{[]string{"promote", "--release", "1"}, 2, "--asg, --asg-tag or --repo is required"},
		{[]string{"promote", "--asg", group, "--release", "1", "--no-refresh", "--wait"}, 2, "--no-refresh starts no refresh"},
		{[]string{"promote", "--asg", group, "--release", "1", "--checkpoints", "20,x"}, 2, "give percentages separated by commas"},
		{[]string{"promote", "--asg", group, "--release", "1", "--checkpoints", "20,50"}, 1, "the last must be 100"},
		{[]string{"promote", "--asg-tag", "novalue", "--release", "1"}, 2, "give KEY=VALUE"},
		{[]string{"revoke", "--family", family, "--release", "1"}, 2, "--reason is required"},
		{[]string{"revoke", "--family", family, "--release", "9", "--reason", "x"}, 1, "no image of the release in us-east-1"},
		{[]string{"diff", "only-one"}, 2, "give two releases"},
		{[]string{"diff", "1", "2"}, 2, "give --family (AMIs) or --repo"},
		{[]string{"prune", "--family", family}, 2, "--keep N"},
		{[]string{"prune", "--family", family, "--keep", "1", "--dry-run", "--yes"}, 2, "not both"},
		{[]string{"images"}, 2, "--family or --repo is required"},
		{[]string{"promote", "--asg", "no-such-group", "--image", ami["1"]}, 1, `autoscaling group "no-such-group" in us-east-1: autoscaling group not found`},
	} {
		_, code, err := pipbake(t, tc.args...)
		if code != tc.code || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: exit %d, %v; want exit %d with %q", tc.args, code, err, tc.code, tc.want)
		}
	}
	if strings.Contains(s, "testing") {
		t.Error("credentials in the output")
	}
}

// waitRefreshes waits for the group's refreshes to end.
func waitRefreshes(t *testing.T, e *amazontest.Env, group string) {
	t.Helper()
	for _, r := range e.Front.Refreshes(group) {
		if _, err := e.Catalog.WaitRefresh(context.Background(), group, r.ID, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRollbackDispatch(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"--root", "/opt/api"}, false},
		{[]string{"--root", "/opt/api", "--to", "3"}, false},
		{[]string{"--asg", "web"}, true},
		{[]string{"-asg=web", "--dry-run"}, true},
		{[]string{"--repo", "r/x", "--tag", "prod"}, true},
		{[]string{"--asg-tag", "pipbake:family=api"}, true},
		{[]string{"--root", "asg"}, false},
	} {
		if got := IsCatalogRollback(tc.args); got != tc.want {
			t.Errorf("%v: %v", tc.args, got)
		}
	}
	// The local rollback is still there.
	_, code, err := pipbake(t, "rollback")
	if code != 2 || !strings.Contains(err.Error(), "--root is required") {
		t.Errorf("rollback without flags: %d %v", code, err)
	}
}

func TestCatalogCommandsOnARegistry(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo := strings.TrimPrefix(srv.URL, "http://") + "/team/api"
	digest := map[string]string{}
	for _, r := range []string{"1", "2"} {
		img, _ := random.Image(32, 1)
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.Config.Labels = catalog.Release{Family: "api", Release: r}.Tags()
		img, _ = mutate.ConfigFile(img, cf)
		tag, _ := name.NewTag(repo + ":" + r)
		if err := remote.Write(tag, img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		digest[r] = d.String()
	}
	s := mustRun(t, "images", "--repo", repo)
	has(t, "images --repo", s, "2 images", "api     1        "+digest["1"])
	s = mustRun(t, "promote", "--repo", repo, "--release", "2", "--tag", "prod")
	has(t, "promote --repo", s, "before: the tag does not exist", "promote: "+repo+":prod points at api@2")
	s = mustRun(t, "rollback", "--repo", repo, "--tag", "prod", "--dry-run")
	has(t, "rollback --repo --dry-run", s, "after:  api@1", "dry run")
	mustRun(t, "rollback", "--repo", repo, "--tag", "prod")
	d, err := remote.Head(mustTag(t, repo+":prod"))
	if err != nil || d.Digest.String() != digest["1"] {
		t.Fatalf("prod: %v %v", d, err)
	}
	_, code, err := pipbake(t, "rollback", "--repo", repo, "--tag", "prod")
	if code != 1 || !strings.Contains(err.Error(), "nothing earlier to go back to") {
		t.Errorf("rollback from the oldest: %d %v", code, err)
	}
	_, code, err = pipbake(t, "promote", "--repo", repo, "--release", "1")
	if code != 2 || !strings.Contains(err.Error(), "--repo needs --release and --tag") {
		t.Errorf("promote without --tag: %d %v", code, err)
	}

	// Revoke 1 in the registry: images shows it, rollback passes over it.
	mustRun(t, "promote", "--repo", repo, "--release", "2", "--tag", "prod")
	s = mustRun(t, "revoke", "--repo", repo, "--release", "1", "--reason", "broken TLS", "--json")
	has(t, "revoke --repo --json", s, `"action": "revoke"`, `"reason": "broken TLS"`)
	s = mustRun(t, "images", "--repo", repo)
	has(t, "images --repo after revoke", s, "REVOKED ", ": broken TLS")
	_, code, err = pipbake(t, "rollback", "--repo", repo, "--tag", "prod")
	if code != 1 || !strings.Contains(err.Error(), "every release of api before api@2 is revoked") {
		t.Errorf("rollback over a revoked release: %d %v", code, err)
	}
	mustRun(t, "unrevoke", "--repo", repo, "--release", "1")
	s = mustRun(t, "rollback", "--repo", repo, "--tag", "prod", "--dry-run")
	has(t, "rollback --repo after unrevoke", s, "after:  api@1", "changes: api@2 (")

	// diff of image references: labels, and no receipts in these layers.
	s = mustRun(t, "diff", repo+":2", repo+"@"+digest["1"])
	has(t, "diff of images", s, "api@2 (", "-> api@1 (", "no receipts in its layers")

	// prune --repo (prod points at 2): keep 1 keeps 2, the newest, and
	// deletes 1, after a dry run (the default) that deletes nothing.
	s = mustRun(t, "prune", "--repo", repo, "--keep", "1")
	has(t, "prune --repo", s, "keep   api@2 (", "one of the newest 1; tag prod refers to it", "delete api@1 (", "dry run: nothing was deleted")
	if _, err := remote.Head(mustTag(t, repo+":1")); err != nil {
		t.Fatalf("the dry run deleted 1: %v", err)
	}
	s = mustRun(t, "prune", "--repo", repo, "--keep", "1", "--yes", "--json")
	has(t, "prune --repo --json", s, `"repository": "`+repo+`"`, `"delete": [`)
	if _, err := remote.Head(mustTag(t, repo+":1")); err == nil {
		t.Error("prune --yes left release 1")
	}
}

func mustTag(t *testing.T, s string) name.Tag {
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

// TestECRCredentials: registry commands authenticate to ECR hosts through
// aws-sdk-go-v2's GetAuthorizationToken (here moto's), with the AWS chain
// the other commands use.
func TestECRCredentials(t *testing.T) {
	e := amazontest.New(t)
	awsEnv(t, e)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg, err := name.NewRegistry("123456789012.dkr.ecr.us-east-1.amazonaws.com")
	if err != nil {
		t.Fatal(err)
	}
	auth, err := ociimage.Keychain(context.Background()).Resolve(reg)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := auth.Authorization()
	if err != nil || cfg.Username != "AWS" || cfg.Password == "" {
		t.Fatalf("ECR credentials: %+v %v", cfg, err)
	}
	if e.Front.Calls("GetAuthorizationToken") != 1 {
		t.Errorf("GetAuthorizationToken calls: %d", e.Front.Calls("GetAuthorizationToken"))
	}
}
