package suggest

import (
	"strings"
	"testing"
)

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"flask", "flask", 0}, {"", "abc", 3}, {"flsk", "flask", 1}, {"flaks", "flask", 1},
		{"reqeusts", "requests", 1}, {"django", "flask", 5}, {"kitten", "sitting", 3}, {"ca", "abc", 3},
	} {
		if got := Distance(c.a, c.b); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestProjects(t *testing.T) {
	house := []string{"Flask", "flask-login", "Jinja2", "requests", "requests-toolbelt", "urllib3", "typing_extensions", "six"}
	for _, c := range []struct {
		name string
		want string
	}{
		{"flsk", "Flask"},
		{"FLAKS", "Flask"},
		{"reqeusts", "requests"},
		{"jinja", "Jinja2"},
		{"typing-extension", "typing_extensions"},
		{"Typing.Extensions", ""}, // there, under PEP 503
		{"sx", "six"},
		{"numpy", ""},
		{"", ""},
	} {
		if got := strings.Join(Projects(c.name, house), ","); got != c.want {
			t.Errorf("Projects(%q) = %q, want %q", c.name, got, c.want)
		}
	}
	if got := Phrase(Projects("flask-logn", house)); got != " (did you mean flask-login?)" {
		t.Errorf("phrase %q", got)
	}
	if got := Phrase([]string{"a", "b", "c"}); got != " (did you mean a, b or c?)" {
		t.Errorf("phrase %q", got)
	}
	many := []string{"abcd", "abce", "abcf", "abcg", "abch"}
	if got := Nearest("abcx", many, nil); len(got) != MaxSuggestions || got[0] != "abcd" {
		t.Errorf("Nearest = %v", got)
	}
}

// FuzzDistance checks the distance's properties on any input: symmetric,
// zero exactly for equal strings, at most the longer length, at least the
// difference in length; and Nearest never suggests beyond its reach.
func FuzzDistance(f *testing.F) {
	f.Add("flsk", "flask")
	f.Add("", "x")
	f.Add("ab", "ba")
	f.Add("requests", "reqeusts")
	f.Add("\xff\xfe", "é")
	f.Fuzz(func(t *testing.T, a, b string) {
		if len(a) > 200 || len(b) > 200 {
			return
		}
		d := Distance(a, b)
		if d != Distance(b, a) {
			t.Fatalf("not symmetric: %q %q", a, b)
		}
		if (d == 0) != (a == b) {
			t.Fatalf("Distance(%q, %q) = %d", a, b, d)
		}
		if d > max(len(a), len(b)) || d < abs(len(a)-len(b)) {
			t.Fatalf("Distance(%q, %q) = %d out of bounds", a, b, d)
		}
		for _, s := range Nearest(a, []string{b}, nil) {
			if Distance(a, s) > Reach(a) || s == a {
				t.Fatalf("suggested %q for %q", s, a)
			}
		}
	})
}
