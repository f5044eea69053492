package npm

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/testenv"
)

// npmModule finds a module bundled with this machine's npm (semver,
// npm-install-checks), which the peer tests ask for npm's answers.
func npmModule(t *testing.T, name string) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		testenv.Missing(t, "node is not installed")
	}
	npmBin, err := exec.LookPath("npm")
	if err != nil {
		testenv.Missing(t, "npm is not installed")
	}
	real, err := filepath.EvalSymlinks(npmBin)
	if err != nil {
		t.Fatal(err)
	}
	for dir := filepath.Dir(real); dir != "/"; dir = filepath.Dir(dir) {
		p := filepath.Join(dir, "node_modules", name)
		if _, err := os.Stat(filepath.Join(p, "package.json")); err == nil {
			return p
		}
	}
	testenv.Missing(t, "npm's bundled %s module not found near %s", name, real)
	return ""
}

// nodeEval runs a JavaScript program with input as JSON on stdin and
// decodes its JSON output.
func nodeEval(t *testing.T, program string, input, output any) {
	t.Helper()
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "-e", program)
	cmd.Stdin = strings.NewReader(string(in))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	if err := json.Unmarshal(out, output); err != nil {
		t.Fatalf("node's answer: %v", err)
	}
}

// TestRangesMatchNodeSemver checks engines ranges against npm's own
// semver (satisfies with includePrerelease, as npm-install-checks calls
// it): every "engines.node" of the fixtures and hand-picked shapes,
// against node versions old and new.
func TestRangesMatchNodeSemver(t *testing.T) {
	mod := npmModule(t, "semver")
	ranges := []string{
		"*", "", ">=0.8", ">= 0.6", ">=0.10.0", "^14.17.0 || >=16.0.0", "^12.20.0 || ^14.13.1 || >=16.0.0",
		"14 || 16 || >=18", "4.x || >=6.0.0", "~1.2", "~1.2.3", "~1", "^0.2.3", "^0.0.3", "^0.0", "^0.x", "^1.2.x",
		"1.2.3 - 2.3.4", "1.2 - 2.3.4", "1.2.3 - 2.3", "1.2.3 - 2", ">1", ">1.2", "<=1.2", "<1.2", "<=1", ">=1.2.x",
		"=20.0.0", "v18.0.0", ">=v18", "~> 1.2", "^ 1.2", "> 1.2.3", "<= 20 >= 18", ">=18 <19", ">=20.0.0-0",
		"18.x", "20.x.x", "x", "X", ">*", "<*", ">=*", "1.2.3-beta.2 - 2", ">=16.0.0-rc.1", "node >= 1",
		"garbage", ">=1.2.3.4", "^01.2.3", "||", ">=12 ||", "1 - ", "^20.19.0 || ^22.13.0 || >=24", "^18.18.0 || ^20.9.0 || >=21.1.0",
	}
	for _, name := range []string{"express", "large"} {
		lk, err := ReadLock(filepath.Join("..", "..", "testdata", "npm", name, "package-lock.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range lk.Packages {
			if r, ok := p.Engines["node"]; ok && !slices.Contains(ranges, r) {
				ranges = append(ranges, r)
			}
		}
	}
	versions := []string{"0.6.0", "0.10.48", "1.2.3", "1.2.9", "1.3.0-0", "2.0.0", "2.3.4", "2.4.0-rc.1", "4.9.1", "6.0.0",
		"12.20.0", "14.17.0", "16.0.0", "16.0.0-rc.1", "18.0.0", "18.18.2", "19.9.0", "20.0.0", "20.0.0-pre", "20.19.2", "21.1.0", "22.13.1", "24.0.0"}
	type q struct {
		R, V string
	}
	var qs []q
	for _, r := range ranges {
		for _, v := range versions {
			qs = append(qs, q{r, v})
		}
	}
	var want []int // 1 satisfies, 0 does not, -1 the range is invalid
	nodeEval(t, `const semver = require(`+jsString(mod)+`);
let s = ''; process.stdin.on('data', d => s += d).on('end', () => {
  const out = JSON.parse(s).map(({R, V}) => {
    try { new semver.Range(R, {includePrerelease: true}) } catch (e) { return -1 }
    return semver.satisfies(V, R, {includePrerelease: true}) ? 1 : 0
  });
  process.stdout.write(JSON.stringify(out));
});`, qs, &want)
	bad := 0
	for i, c := range qs {
		r, err := ParseRange(c.R)
		got := -1
		if err == nil {
			v, verr := ParseVersion(c.V)
			if verr != nil {
				t.Fatal(verr)
			}
			got = 0
			if r.Contains(v) {
				got = 1
			}
		}
		if got != want[i] {
			bad++
			if bad <= 30 {
				t.Errorf("range %q, node %s: pipbake %d, node-semver %d", c.R, c.V, got, want[i])
			}
		}
	}
	t.Logf("%d range and version pairs compared with node-semver, %d differ", len(qs), bad)
}

// TestLocaleCompareMatchesIntl sorts strings made of the characters of
// package paths with localeCompare and with node's Intl.Collator("en").
func TestLocaleCompareMatchesIntl(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		testenv.Missing(t, "node is not installed")
	}
	const alphabet = "abcXYZ019-._~!'()*@/"
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"node_modules/a", "node_modules/A", "node_modules/@babel/core", "node_modules/ab", "node_modules/a-b",
		"node_modules/a.b", "node_modules/a_b", "node_modules/a/node_modules/b", "node_modules/a1", "node_modules/aB", "node_modules/Ab"}
	for i := 0; i < 400; i++ {
		n := 1 + r.IntN(8)
		var b strings.Builder
		for j := 0; j < n; j++ {
			b.WriteByte(alphabet[r.IntN(len(alphabet))])
		}
		words = append(words, b.String())
	}
	var want []string
	nodeEval(t, `let s = ''; process.stdin.on('data', d => s += d).on('end', () => {
  const c = new Intl.Collator('en');
  process.stdout.write(JSON.stringify(JSON.parse(s).sort((a, b) => c.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0))));
});`, words, &want)
	got := slices.Clone(words)
	slices.SortStableFunc(got, func(a, b string) int {
		if c := localeCompare(a, b); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("position %d: pipbake sorts %q, Intl.Collator %q\npipbake: %q\nnode:    %q", i, got[i], want[i], got[max(0, i-3):min(len(got), i+3)], want[max(0, i-3):min(len(want), i+3)])
		}
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
