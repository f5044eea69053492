package shell

import "testing"

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":              "''",
		"/opt/app/bin":  "/opt/app/bin",
		"a b":           "'a b'",
		"it's":          `'it'"'"'s'`,
		"$(rm -rf /)":   "'$(rm -rf /)'",
		"KEY=v,w:x@y%z": "KEY=v,w:x@y%z",
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
	if got := Join("echo", "a b"); got != "echo 'a b'" {
		t.Errorf("Join = %s", got)
	}
}
