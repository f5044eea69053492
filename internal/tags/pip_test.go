package tags_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/tags"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/pythons"
)

// pipTags returns the tags pip uses to choose wheels for python, best
// first: the "Compatible tags" list of `pip debug --verbose`.
func pipTags(t *testing.T, python string) []string {
	t.Helper()
	out := corpustest.Run(t, python, nil, "-m", "pip", "debug", "--verbose")
	_, list, ok := strings.Cut(out, "Compatible tags: ")
	if !ok {
		t.Fatalf("%s: pip debug --verbose lists no compatible tags:\n%s", python, out)
	}
	lines := strings.Split(list, "\n")
	var n int
	if _, err := fmt.Sscan(lines[0], &n); err != nil {
		t.Fatalf("%s: pip debug: %q: %v", python, lines[0], err)
	}
	var got []string
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, "  ") || strings.TrimSpace(l) == "" {
			break
		}
		got = append(got, strings.TrimSpace(l))
	}
	if len(got) != n {
		t.Fatalf("%s: pip debug announces %d tags and lists %d", python, n, len(got))
	}
	return got
}

// TestTagsMatchPip compares, in order, the tags pipbake ranks wheels by
// with the tags pip itself uses on every interpreter of this machine
// (pyenv's 3.8 to 3.13, each with its own pip, and Debian's python3).
// pip is the reference, not packaging 26.3, which ranks linux_<arch>
// before manylinux (see README, "Versions, markers and tags").
func TestTagsMatchPip(t *testing.T) {
	if testing.Short() {
		t.Skip("runs pip debug on every interpreter (about 30 s)")
	}
	var pys []string
	for _, minor := range pythons.Versions {
		pys = append(pys, corpustest.PyenvPython(t, minor))
	}
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		pys = append(pys, "/usr/bin/python3")
	} else if testenv.CorpusRequired() {
		t.Fatal("Debian's /usr/bin/python3 is missing (and PIPBAKE_CORPUS_REQUIRED is set)")
	}
	for _, py := range pys {
		t.Run(pythons.Label(py), func(t *testing.T) {
			tg, err := target.Probe(context.Background(), py)
			if err != nil {
				t.Fatal(err)
			}
			ours, err := tg.Tags()
			if err != nil {
				t.Fatal(err)
			}
			got := make([]string, len(ours))
			for i, tag := range ours {
				got[i] = tag.String()
			}
			want := pipTags(t, py)
			for i := 0; i < len(got) && i < len(want); i++ {
				if got[i] != want[i] {
					t.Fatalf("tag %d: pipbake %s, pip %s (pipbake %v, pip %v)", i, got[i], want[i], window(got, i), window(want, i))
				}
			}
			if len(got) != len(want) {
				t.Fatalf("pipbake has %d tags, pip %d", len(got), len(want))
			}
			// The two choices packaging 26.3 makes differently.
			own := ours[0].Interpreter + "-none-any"
			if i := slices.Index(got, own); i < 0 || got[i+1] != "py"+ours[0].Interpreter[2:]+"-none-any" {
				t.Errorf("%s is not just before the py tags", own)
			}
			if linux, many := firstWith(got, "-linux_"), firstWith(got, "-manylinux"); many < 0 || linux < many {
				t.Errorf("linux_ at %d, manylinux at %d: pip prefers manylinux", linux, many)
			}
		})
	}
}

func firstWith(tags []string, s string) int {
	return slices.IndexFunc(tags, func(t string) bool { return strings.Contains(t, s) })
}

func window(s []string, i int) []string {
	return s[max(0, i-2):min(len(s), i+3)]
}

// TestSpecOrderAgainstPackaging26 pins the order pipbake keeps where
// packaging 26.3's sys_tags differs: within each interpreter-ABI group
// manylinux comes before linux_<arch> (26.3 puts linux_<arch> first).
func TestSpecOrderAgainstPackaging26(t *testing.T) {
	s := tags.Spec{Major: 3, Minor: 12, Platforms: tags.LinuxPlatforms("x86_64", 17, -1)}
	all := s.Supported()
	first := all[0].String()
	if first != "cp312-cp312-manylinux_2_17_x86_64" {
		t.Errorf("best tag %s", first)
	}
	r := tags.Rank(all)
	many, _ := r.Best(tags.Expand("cp312", "cp312", "manylinux_2_17_x86_64"))
	linux, _ := r.Best(tags.Expand("cp312", "cp312", "linux_x86_64"))
	if many > linux {
		t.Errorf("a manylinux wheel ranks %d, a linux_x86_64 one %d: pip prefers manylinux", many, linux)
	}
}
