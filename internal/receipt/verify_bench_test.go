package receipt

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bigRelease writes a sealed release of dists distributions with files
// files each, spread over nested folders, as a release of a real set is.
func bigRelease(tb testing.TB, dir string, dists, files int) string {
	tb.Helper()
	rel := filepath.Join(dir, "releases", "r1")
	sp := "lib/python3.11/site-packages"
	rc := &Receipt{Set: "s", Release: "r1", Created: time.Unix(1764133200, 0).UTC(), Lock: Lock{SHA256: strings.Repeat("a", 64)}}
	body := []byte(strings.Repeat("x = 1\n", 300))
	sum := sha256.Sum256(body)
	hash := "sha256=" + base64.RawURLEncoding.EncodeToString(sum[:])
	for d := range dists {
		name := fmt.Sprintf("p%03d", d)
		info := name + "-1.0.dist-info"
		var record strings.Builder
		for f := range files {
			p := fmt.Sprintf("%s/sub%d/deep%d/m%d.py", name, f%7, f%3, f)
			full := filepath.Join(rel, sp, p)
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				tb.Fatal(err)
			}
			if err := os.WriteFile(full, body, 0o644); err != nil {
				tb.Fatal(err)
			}
			fmt.Fprintf(&record, "%s,%s,%d\n", p, hash, len(body))
		}
		if err := os.MkdirAll(filepath.Join(rel, sp, info), 0o755); err != nil {
			tb.Fatal(err)
		}
		record.WriteString(info + "/RECORD,,\n")
		if err := os.WriteFile(filepath.Join(rel, sp, info, "RECORD"), []byte(record.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
		rc.Distributions = append(rc.Distributions, Distribution{Name: name, Version: "1.0", Wheel: name + "-1.0-py3-none-any.whl",
			SHA256: strings.Repeat("b", 64), DistInfo: sp + "/" + info, Files: files + 1})
	}
	if rep, err := Seal(rel, rc); err != nil || !rep.Clean() {
		tb.Fatalf("seal: %v %+v", err, rep)
	}
	if err := rc.Write(rel); err != nil {
		tb.Fatal(err)
	}
	return rel
}

// BenchmarkVerify verifies a release of 60 distributions of 300 files
// (18,000 files in 2,000 folders), contents and all.
func BenchmarkVerify(b *testing.B) {
	rel := bigRelease(b, b.TempDir(), 60, 300)
	b.ResetTimer()
	for b.Loop() {
		rep, err := Verify(rel, Options{})
		if err != nil || !rep.Clean() {
			b.Fatalf("%v %+v", err, rep.Problems[:min(3, len(rep.Problems))])
		}
	}
}

// TestVerifyBigRelease: the pools find every file of a big release, and
// a changed file deep inside it.
func TestVerifyBigRelease(t *testing.T) {
	rel := bigRelease(t, t.TempDir(), 12, 120)
	rep, err := Verify(rel, Options{})
	if err != nil || !rep.Clean() || rep.Checked != 12*121 {
		t.Fatalf("verify: %v checked %d %+v", err, rep.Checked, rep.Problems)
	}
	p := "lib/python3.11/site-packages/p007/sub5/deep2/m110.py"
	if err := os.WriteFile(filepath.Join(rel, p), []byte(strings.Repeat("x = 2\n", 300)), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err = Verify(rel, Options{})
	if err != nil || len(rep.Problems) != 1 || rep.Problems[0].Path != p || rep.Problems[0].Kind != Modified {
		t.Fatalf("verify after a change: %v %+v", err, rep.Problems)
	}
}
