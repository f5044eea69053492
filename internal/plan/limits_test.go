package plan

import (
	"runtime/debug"
	"strings"
	"testing"
)

// TestHostileNesting: deep nesting used to overflow the stack inside HCL's
// parsers (a fatal error no recover catches) for every one of these.
// With -short (make check, under -race) the inputs are a tenth as deep,
// still far over the limits: 0.6 s instead of 5 s.
func TestHostileNesting(t *testing.T) {
	defer debug.SetMaxStack(debug.SetMaxStack(64 << 20))
	n := 50_000 // under MaxPlanBytes, and enough to overflow a 64 MB stack
	if testing.Short() {
		n = 5_000
	}
	set := "\nset {\n  name = \"a\"\n  lock = \"a.txt\"\n  root = \"/opt/a\"\n}\n"
	tests := []struct{ name, src, want string }{
		{"parens.hcl", "release = " + strings.Repeat("(", n) + `"x"` + strings.Repeat(")", n) + set, "plan.hcl:1: expressions nested more than 64 deep"},
		{"lists.hcl", "release = " + strings.Repeat("[", n) + strings.Repeat("]", n) + set, ":1: expressions nested more than 64 deep"},
		{"unary.hcl", "release = " + strings.Repeat("-", n) + "1" + set, ":1: expressions nested more than 64 deep"},
		{"conditional.hcl", "release = " + strings.Repeat("true ? 1 : ", n) + "2" + set, ":1: expressions nested more than 64 deep"},
		{"template.hcl", "release = \"" + strings.Repeat("${\"", n) + "\"" + set, ":1: expressions nested more than 64 deep"},
		{"chain.hcl", "release = " + strings.Repeat("1 + ", n) + "1" + set, ":1: more than 256 operators in one expression"},
		{"arrays.json", `{"release": ` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`, ":1: arrays and objects nested more than 64 deep"},
		{"template.json", `{"release": "` + strings.Repeat(`${\u0028`, n) + `"}`, ":1: expressions nested more than 64 deep"},
		{"big.hcl", "release = \"" + strings.Repeat("x", MaxPlanBytes) + "\"", "the limit is"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "plan" + tt.name[strings.LastIndex(tt.name, "."):]
			_, err := Parse(name, []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) || len(err.Error()) > 300 {
				t.Fatalf("error %.300v, want %s", err, tt.want)
			}
		})
	}
	// A real plan's expressions pass.
	ok := "release = \"${\"r\"}-${1 + 2 * 3}\"\nwheelhouse = (true ? \"w\" : \"x\")\n" + set
	if _, err := Parse("plan.hcl", []byte(ok)); err != nil {
		t.Fatal(err)
	}
}
