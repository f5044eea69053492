package pyname

import "testing"

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"Flask":              "flask",
		"typing_extensions":  "typing-extensions",
		"zope.interface":     "zope-interface",
		"A__B-.-C":           "a-b-c",
		"charset-normalizer": "charset-normalizer",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
	if got := WheelEscape("jsonschema-specifications"); got != "jsonschema_specifications" {
		t.Errorf("WheelEscape = %q", got)
	}
}

func TestValid(t *testing.T) {
	for _, ok := range []string{"flask", "a", "zope.interface", "A_b-c9"} {
		if !Valid(ok) {
			t.Errorf("Valid(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "-a", "a-", "a b", "a/b", "é"} {
		if Valid(bad) {
			t.Errorf("Valid(%q) = true", bad)
		}
	}
}
