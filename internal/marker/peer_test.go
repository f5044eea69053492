package marker

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// peerCase is one case of testdata/peer/packaging/cases.json.gz: an input
// from pypa/packaging 26.3's own test tables and packaging 26.3's answer.
type peerCase struct {
	ID     string          `json:"id"`
	Kind   string          `json:"kind"`
	In     peerInput       `json:"in"`
	Oracle json.RawMessage `json:"oracle"`
}

type peerInput struct {
	M       string            `json:"m"`       // the marker
	Env     map[string]string `json:"env"`     // meval: over default_env; sets as "a,b"
	Context string            `json:"context"` // meval: metadata, lock_file or requirement
}

// eachPeerCase streams the marker cases (kinds starting with "m") of the
// packaging conformance table to fn, case by case, with the environment
// they are evaluated in, and checks the table is packaging 26.3's. The
// version and specifier cases (internal/pep440's) are not decoded.
func eachPeerCase(t *testing.T, fn func(c *peerCase, defaults Env)) {
	t.Helper()
	path := filepath.Join("..", "..", "testdata", "peer", "packaging", "cases.json.gz")
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("loading packaging's cases: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	fail := func(err error) { t.Fatalf("%s: %v", path, err) }
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<16), 4<<20)
	sc.Split(splitPeerTable())
	if !sc.Scan() {
		fail(fmt.Errorf("no \"cases\" array: %v", sc.Err()))
	}
	var head struct {
		Version  string `json:"packaging_version"`
		Defaults Env    `json:"default_env"`
	}
	if err := json.Unmarshal(append(slices.Clip(sc.Bytes()), "[]}"...), &head); err != nil {
		fail(fmt.Errorf("the keys before \"cases\": %w", err))
	}
	if len(head.Defaults) == 0 {
		fail(errors.New("no default_env before the cases"))
	}
	n := 0
	for sc.Scan() {
		n++
		kind := peerKind(sc.Bytes())
		if !strings.HasPrefix(kind, "m") {
			continue
		}
		var c peerCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			fail(fmt.Errorf("case %d: %w", n, err))
		}
		if c.Kind != kind {
			fail(fmt.Errorf("case %d (%s): kind %q, scanned as %q", n, c.ID, c.Kind, kind))
		}
		fn(&c, head.Defaults)
	}
	if err := sc.Err(); err != nil {
		fail(err)
	}
	if head.Version != "26.3" || n == 0 {
		fail(fmt.Errorf("packaging %q with %d cases, want 26.3's table", head.Version, n))
	}
}

// splitPeerTable splits the table for a bufio.Scanner: first everything
// up to and including `"cases":` (the keys before the cases, the last
// key of the document), then each case's JSON object. Cases are split
// at `},{"id":"`, which cannot occur inside a JSON string (its quotes
// would be escaped); json.Unmarshal checks each case decoded is whole.
// Finding the boundaries with bytes.Index instead of decoding the 196,000
// version and specifier cases takes this test from about 8 s to 1 s under
// -race. (internal/pep440's peer test has the same splitter.)
func splitPeerTable() bufio.SplitFunc {
	const cases = `"cases":`
	sep := []byte(`},{"id":"`)
	header := true
	return func(data []byte, atEOF bool) (int, []byte, error) {
		if header {
			i := bytes.Index(data, []byte(cases+"["))
			if i < 0 {
				if atEOF {
					return 0, nil, errors.New(`no "cases" array`)
				}
				return 0, nil, nil
			}
			header = false
			return i + len(cases) + 1, data[:i+len(cases)], nil
		}
		if i := bytes.Index(data, sep); i >= 0 {
			return i + 2, data[:i+1], nil
		}
		if !atEOF {
			return 0, nil, nil
		}
		last := bytes.TrimRight(data, " \t\r\n")
		if !bytes.HasSuffix(last, []byte("]}")) {
			return 0, nil, errors.New("the cases array does not end the document")
		}
		return len(data), last[:len(last)-2], bufio.ErrFinalToken
	}
}

// peerKind is the value of a case's "kind" key, found without decoding
// the case (eachPeerCase checks it against the decoded one).
func peerKind(c []byte) string {
	const key = `"kind":"`
	i := bytes.Index(c, []byte(key))
	if i < 0 {
		return ""
	}
	v := c[i+len(key):]
	j := bytes.IndexByte(v, '"')
	if j < 0 {
		return ""
	}
	return string(v[:j])
}

var peerContexts = map[string]Context{"metadata": Metadata, "lock_file": LockFile, "requirement": Requirement}

// TestPackagingConformance runs every marker case of packaging 26.3's test
// tables (parse, evaluate, print) and reports each answer that differs
// from packaging's. The only tolerated difference is the one pipbake makes
// on purpose (README, "Markers and versions"): where a version variable's
// value is not a PEP 440 version, a comparison with a version is an error
// (ErrNotVersion), as in pip, rather than packaging 26's false.
func TestPackagingConformance(t *testing.T) {
	ran := map[string]int{}
	failed, deliberate := 0, 0
	eachPeerCase(t, func(c *peerCase, defaults Env) {
		var got any
		var gotErr error
		switch c.Kind {
		case "mparse":
			_, err := Parse(c.In.M)
			got = map[string]bool{"valid": err == nil}
		case "mstr":
			if e, err := Parse(c.In.M); err != nil {
				got = "error: " + err.Error()
			} else {
				got = e.String()
			}
		case "meval":
			ctx, ok := peerContexts[c.In.Context]
			if !ok {
				t.Fatalf("%s: unknown context %q", c.ID, c.In.Context)
			}
			env := maps.Clone(defaults)
			maps.Copy(env, c.In.Env)
			e, err := Parse(c.In.M)
			if err == nil {
				got, err = e.EvaluateIn(env, ctx)
			}
			if err != nil {
				got, gotErr = "error", err
			}
		default:
			t.Fatalf("%s: unknown kind %q", c.ID, c.Kind)
		}
		ran[c.Kind]++
		if sameJSON(got, c.Oracle) {
			return
		}
		if errors.Is(gotErr, ErrNotVersion) && string(c.Oracle) == "false" {
			t.Logf("deliberate: %s %s", c.ID, c.In.M)
			deliberate++
			return
		}
		failed++
		if failed <= 200 {
			detail := ""
			if gotErr != nil {
				detail = " (" + gotErr.Error() + ")"
			}
			t.Errorf("%s %s %s: pipbake %s%s, packaging %s", c.ID, c.Kind, compact(c.In), compact(got), detail, c.Oracle)
		}
	})
	if failed > 200 {
		t.Errorf("... %d disagreements in all", failed)
	}
	for _, k := range []string{"mparse", "meval", "mstr"} {
		if ran[k] == 0 {
			t.Errorf("no %s cases ran", k)
		}
	}
	t.Logf("cases run: %v; %d deliberate differences (ErrNotVersion where packaging 26 says false)", ran, deliberate)
}

// sameJSON reports whether got, as JSON, is the document want.
func sameJSON(got any, want json.RawMessage) bool {
	ja, err := json.Marshal(got)
	if err != nil {
		return false
	}
	if bytes.Equal(ja, want) {
		return true
	}
	var x, y any
	if json.Unmarshal(ja, &x) != nil || json.Unmarshal(want, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(string(b))
}
