package lock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// parseBounded parses data and fails the test if it takes more than
// maxHeap bytes of heap or any error message is longer than maxMsg.
func parseBounded(t *testing.T, name string, data []byte, maxMsg int) error {
	t.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Parse(name, data)
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20+4*uint64(len(data)) {
		t.Errorf("%s: parsing %d bytes allocated %d MB", name, len(data), grew>>20)
	}
	if err != nil && len(err.Error()) > maxMsg {
		t.Errorf("%s: the error is %d bytes long (first 300: %.300s)", name, len(err.Error()), err.Error())
	}
	return err
}

// TestHostileNesting: 3,000,000 nested parentheses or arrays used to
// overflow the stack (a fatal error no recover catches). With -short
// (make check, under -race) the input is a tenth as deep, still far over
// the limits.
func TestHostileNesting(t *testing.T) {
	// Keep a stack overflow quick and small should the limits regress.
	defer debug.SetMaxStack(debug.SetMaxStack(64 << 20))
	n := 3_000_000
	if testing.Short() {
		n = 300_000
	}
	h := hash64("x")
	tests := []struct {
		name, data string
		line       int
		want       string
	}{
		{
			"requirements.txt",
			"# hostile\nfoo==1.0 ; " + strings.Repeat("(", n) + `os_name == "posix"` + strings.Repeat(")", n) + " --hash=sha256:" + h + "\n",
			2, fmt.Sprintf("line 2 is %d bytes long", 2*n+108),
		},
		{
			"pylock.toml",
			"lock-version = \"1.0\"\ncreated-by = \"x\"\nx = " + strings.Repeat("[\n", n) + strings.Repeat("]\n", n) + "\n",
			3 + MaxNesting, "nested more than",
		},
		{
			"lock.toml", // not named pylock: format detection decodes it
			"x = " + strings.Repeat("[\n", n) + strings.Repeat("]\n", n) + "\n",
			1 + MaxNesting, "nested more than",
		},
		{
			"pylock.toml",
			"lock-version = \"1.0\"\ncreated-by = \"x\"\n[[packages]]\nname = \"a\"\nversion = \"1\"\n" +
				"marker = \"" + strings.Repeat("(", 5000) + `os_name == 'posix'` + strings.Repeat(")", 5000) + "\"\n" +
				"wheels = [{name = \"a-1-py3-none-any.whl\", url = \"https://x/a-1-py3-none-any.whl\", hashes = {sha256 = \"" + h + "\"}}]\n",
			3, "nested more than 100 deep",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := parseBounded(t, tt.name, []byte(tt.data), 1000)
			var le *Error
			if !errors.As(err, &le) || le.Line != tt.line || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %.500v, want %s:%d: ...%s", err, tt.name, tt.line, tt.want)
			}
		})
	}
}

// TestLongLinesAreNotEchoed: a 10 MB line is refused by number, not quoted.
func TestLongLinesAreNotEchoed(t *testing.T) {
	long := strings.Repeat("a", 10<<20)
	for name, data := range map[string]string{
		"requirements.txt": "flask==" + long + " --hash=sha256:" + hash64("f") + "\n",
		"pylock.toml":      "lock-version = \"1.0\"\ncreated-by = \"" + long + "\"\n",
	} {
		err := parseBounded(t, name, []byte(data), 1000)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%s:%d: line %d is", name, strings.Count(data[:strings.Index(data, long)], "\n")+1, strings.Count(data[:strings.Index(data, long)], "\n")+1)) {
			t.Errorf("%s: %.300v", name, err)
		}
	}
	// Under the line limit, long values are still cut in messages.
	mid := strings.Repeat("b", 60_000)
	err := parseBounded(t, "requirements.txt", []byte("flask>="+mid+"\n"+mid+"==1.0\n"), 1000)
	if err == nil || !strings.Contains(err.Error(), "requirements.txt:1:") || !strings.Contains(err.Error(), "requirements.txt:2:") {
		t.Errorf("long requirement: %.500v", err)
	}
}

// TestManyProblems: a broken lock of 100,000 lines (10,000 with -short)
// reports its first MaxProblems problems and how many more there are, and
// a pylock.toml with 1,000 packages (100) as many warnings.
func TestManyProblems(t *testing.T) {
	lines := 100_000
	if testing.Short() {
		lines = 10_000
	}
	var b strings.Builder
	for i := range lines {
		fmt.Fprintf(&b, "pkg%d>=1.0\n", i)
	}
	err := parseBounded(t, "requirements.txt", []byte(b.String()), 10_000)
	errs := lockErrors(t, err)
	if len(errs) != MaxProblems+1 {
		t.Fatalf("%d errors reported, want %d and a count", len(errs), MaxProblems+1)
	}
	for i, e := range errs[:MaxProblems] {
		if e.Line != i+1 {
			t.Errorf("problem %d is on line %d", i, e.Line)
		}
	}
	if last := errs[MaxProblems].Error(); !strings.Contains(last, fmt.Sprintf(" %d more problems", lines-MaxProblems)) {
		t.Errorf("last = %q", last)
	}

	// The same holds for warnings.
	pkgs := lines / 100
	var p strings.Builder
	p.WriteString("lock-version = \"1.0\"\ncreated-by = \"x\"\n")
	for i := range pkgs {
		fmt.Fprintf(&p, "[[packages]]\nname = \"a%d\"\nversion = \"1\"\nfuture-key = 1\n", i)
		fmt.Fprintf(&p, "wheels = [{name = \"a%d-1-py3-none-any.whl\", url = \"https://x/a%d-1-py3-none-any.whl\", hashes = {sha256 = \"%s\"}}]\n", i, i, hash64("w"))
	}
	l, err := Parse("pylock.toml", []byte(p.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Warnings) != MaxProblems+1 || !strings.Contains(l.Warnings[MaxProblems], fmt.Sprintf(" %d more warnings", pkgs-MaxProblems)) {
		t.Errorf("%d warnings, last %q", len(l.Warnings), l.Warnings[len(l.Warnings)-1])
	}
}

// TestFileSizeLimit: a file larger than MaxFileBytes is refused unread
// (as ParseFile says), which /proc/self/io's count of bytes read shows.
// It used to read MaxFileBytes+1 bytes first: 2.5 s under -race.
func TestFileSizeLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "requirements.txt")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxFileBytes + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	before, countable := bytesRead(t)
	_, err = ParseFile(path)
	if err == nil || !strings.Contains(err.Error(), "limit") || !strings.Contains(err.Error(), path) {
		t.Fatalf("ParseFile of a %d-byte file: %v", MaxFileBytes+1, err)
	}
	if after, _ := bytesRead(t); countable && after-before > 1<<20 {
		t.Errorf("ParseFile read %d bytes of a file larger than the limit", after-before)
	}
}

// bytesRead is this process's count of bytes read (rchar of
// /proc/self/io), and whether there is one.
func bytesRead(t *testing.T) (int64, bool) {
	t.Helper()
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("/proc/self/io: %q", line)
			}
			return n, true
		}
	}
	t.Fatalf("/proc/self/io has no rchar: %q", data)
	return 0, false
}

func TestCheckTOMLNesting(t *testing.T) {
	deep := strings.Repeat("[", MaxNesting+1)
	ok := []string{
		`a = "` + deep + `"`,
		`a = '` + deep + `'`,
		"a = \"\"\"\n" + deep + "\n\"\"\"",
		"a = '''" + deep + "'''",
		"# " + deep,
		`a = "\"` + deep + `"`,
		"a = \"\"\"x\"\"\"\"\"\nb = 1 # ]]]\n" + strings.Repeat("[", MaxNesting) + strings.Repeat("]", MaxNesting),
		strings.Repeat("[[a]]\n", 1000),
	}
	for _, text := range ok {
		if err := checkTOMLNesting("x.toml", text); err != nil {
			t.Errorf("%.60q: %v", text, err)
		}
	}
	bad := map[string]int{
		"a = " + deep:                                     1,
		"a = \"\"\"\n\n\"\"\"\nb = " + deep:               4,
		"a = '''\n'''\nb = [\n" + deep[1:]:                4,
		"a = 'x' # '\nb = " + deep:                        2,
		`a = "\\"` + "\nb = " + deep:                      2,
		"a = {b = " + strings.Repeat("{c = ", MaxNesting): 1,
	}
	for text, line := range bad {
		err := checkTOMLNesting("x.toml", text)
		var le *Error
		if !errors.As(err, &le) || le.Line != line {
			t.Errorf("%.60q: %v, want line %d", text, err, line)
		}
	}
}
