package sshremote

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var testEnv = Env{Home: "/home/ops", LocalUser: "ops"}

func resolve(t *testing.T, src, alias string) *HostConfig {
	t.Helper()
	c, err := ParseConfig("config", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return c.Resolve(alias, testEnv)
}

func TestResolveHostBlocks(t *testing.T) {
	src := `
# fleet
Host web-* !web-canary
    HostName %h.prod.example.com
    User deploy
    Port=2222
    IdentityFile ~/.ssh/deploy_%r
Host web-canary
    HostName 10.0.0.9
Host *
    User nobody
    Port 22
    IdentityFile "%d/.ssh/id ed25519"
    UserKnownHostsFile ~/.ssh/known_fleet /etc/fleet/known
    StrictHostKeyChecking accept-new
    ConnectTimeout 7
    ProxyJump bastion@jump.example.com:2200,second
`
	web := resolve(t, src, "web-3")
	if web.HostName != "web-3.prod.example.com" || web.User != "deploy" || web.Port != 2222 {
		t.Errorf("web-3 = %+v", web)
	}
	if want := []string{"/home/ops/.ssh/deploy_deploy", "/home/ops/.ssh/id ed25519"}; !reflect.DeepEqual(web.IdentityFiles, want) {
		t.Errorf("identity files %q, want %q", web.IdentityFiles, want)
	}
	if want := []string{"/home/ops/.ssh/known_fleet", "/etc/fleet/known"}; !reflect.DeepEqual(web.UserKnownHostsFiles, want) {
		t.Errorf("known hosts %q", web.UserKnownHostsFiles)
	}
	if web.StrictHostKeyChecking != "accept-new" || web.ConnectTimeout != 7*time.Second || !reflect.DeepEqual(web.ProxyJump, []string{"bastion@jump.example.com:2200", "second"}) {
		t.Errorf("web-3 = %+v", web)
	}
	// the negated pattern keeps the canary out of the first block
	canary := resolve(t, src, "web-canary")
	if canary.HostName != "10.0.0.9" || canary.User != "nobody" || canary.Port != 22 {
		t.Errorf("web-canary = %+v", canary)
	}
	// defaults where the config is silent
	plain := resolve(t, "", "db1")
	if plain.HostName != "db1" || plain.User != "ops" || plain.Port != 22 || plain.StrictHostKeyChecking != "yes" ||
		!reflect.DeepEqual(plain.UserKnownHostsFiles, []string{"/home/ops/.ssh/known_hosts", "/home/ops/.ssh/known_hosts2"}) ||
		plain.IdentityAgent != "" || len(plain.ProxyJump) != 0 {
		t.Errorf("defaults = %+v", plain)
	}
}

func TestResolveSyntax(t *testing.T) {
	src := "  HOSTNAME=\"a b\"  # trailing comment\n\tuser\t'x y'\nport = 2022\nIdentityAgent none\nIdentitiesOnly yes\nStrictHostKeyChecking no\nUserKnownHostsFile none\nGlobalKnownHostsFile /g\\ 1\n"
	h := resolve(t, src, "h")
	if h.HostName != "a b" || h.User != "x y" || h.Port != 2022 || h.IdentityAgent != "none" || !h.IdentitiesOnly ||
		h.StrictHostKeyChecking != "accept-new" || len(h.UserKnownHostsFiles) != 0 || !reflect.DeepEqual(h.GlobalKnownHostsFiles, []string{"/g 1"}) {
		t.Errorf("got %+v", h)
	}
}

func TestResolveMatch(t *testing.T) {
	src := `
Host short
    HostName long.example.com
Match host long.example.com
    User matched
Match originalhost short !all
    Port 9
Match exec "true"
    Port 10
Match all
    Port 11
`
	h := resolve(t, src, "short")
	if h.User != "matched" || h.Port != 11 {
		t.Errorf("got %+v", h)
	}
	if len(h.Warnings) != 1 || !strings.Contains(h.Warnings[0], "config:8: Match exec is not supported") {
		t.Errorf("warnings %q", h.Warnings)
	}
}

func TestParseErrorsNameLine(t *testing.T) {
	for name, tc := range map[string]struct{ src, want string }{
		"port":     {"Host a\n  Port 70000\n", "config:2: Port: port \"70000\" is not a number from 1 to 65535"},
		"quote":    {"Host a\nUser \"x\n", "config:2: unterminated quote"},
		"token":    {"IdentityFile ~/.ssh/%z\n", "config:1: IdentityFile: token %z is not supported here"},
		"lone %":   {"HostName h%\n", "config:1: HostName: ends with a lone %"},
		"strict":   {"StrictHostKeyChecking maybe\n", "config:1: StrictHostKeyChecking: \"maybe\" is not yes"},
		"host":     {"Host\n", "config:1: Host: needs at least one pattern"},
		"keyword":  {"Ho$t a\n", "config:1: \"Ho$t\" is not a keyword"},
		"jump":     {"ProxyJump a,-oops\n", "config:1: ProxyJump: host \"-oops\": must not start with -"},
		"two args": {"User a b\n", "config:1: User: takes one value, got 2"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseConfig("config", []byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
		})
	}
	// every problem at once, bounded
	_, err := ParseConfig("config", []byte(strings.Repeat("Port 0\n", 50)))
	if err == nil || strings.Count(err.Error(), "\n") != maxProblems || !strings.Contains(err.Error(), "and 30 more problems") {
		t.Errorf("50 bad lines: %v", err)
	}
}

func TestLoadConfigInclude(t *testing.T) {
	home := t.TempDir()
	ssh := filepath.Join(home, ".ssh")
	os.MkdirAll(filepath.Join(ssh, "conf.d"), 0o700)
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(ssh, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("config", "Host inc\n    Include conf.d/*.conf\nHost *\n    User fallback\n")
	// included Host lines do not leak into the including file's blocks
	write("conf.d/10-a.conf", "Port 1022\nHost other\n    User other\n")
	write("conf.d/20-b.conf", "User fromb\n")
	env := Env{Home: home, LocalUser: "me"}
	c, err := LoadConfig(filepath.Join(ssh, "config"), env)
	if err != nil {
		t.Fatal(err)
	}
	if h := c.Resolve("inc", env); h.Port != 1022 || h.User != "fromb" {
		t.Errorf("inc = %+v", h)
	}
	// an Include inside an inactive block applies nothing, even its Host lines
	if h := c.Resolve("other", env); h.Port != 22 || h.User != "fallback" {
		t.Errorf("other = %+v", h)
	}
	// a missing config is empty
	c, err = LoadConfig(filepath.Join(home, "nope"), env)
	if err != nil || c.Resolve("x", env).User != "me" {
		t.Errorf("missing config: %v", err)
	}
	// includes that loop stop at the depth limit, naming the line
	write("loop", "Include loop\n")
	if _, err := LoadConfig(filepath.Join(ssh, "loop"), env); err == nil || !strings.Contains(err.Error(), "loop:1: Include nested more than 16 deep") {
		t.Errorf("include loop: %v", err)
	}
}

func TestMatchPattern(t *testing.T) {
	for _, tc := range []struct {
		s, pat string
		want   bool
	}{
		{"web-1", "web-*", true}, {"WEB-1", "web-?", true}, {"web-10", "web-?", false}, {"a", "*", true},
		{"", "*", true}, {"", "?", false}, {"abcabd", "*ab?", true}, {"abc", "a*b*c*", true}, {"abc", "a*d", false},
		{strings.Repeat("a", 5000), strings.Repeat("*a", 200) + "b", false},
	} {
		if got := matchPattern(tc.s, tc.pat); got != tc.want {
			t.Errorf("matchPattern(%.20q, %.20q) = %v", tc.s, tc.pat, got)
		}
	}
}

func TestParseDestination(t *testing.T) {
	for in, want := range map[string]Destination{
		"h":                      {Host: "h"},
		"u@h":                    {User: "u", Host: "h"},
		"u@h:2222":               {User: "u", Host: "h", Port: 2222},
		"[::1]:22":               {Host: "::1", Port: 22},
		"u@[fe80::1]":            {User: "u", Host: "fe80::1"},
		"::1":                    {Host: "::1"},
		"ssh://u@host.example:7": {User: "u", Host: "host.example", Port: 7},
		"first.last@a@h":         {User: "first.last@a", Host: "h"},
	} {
		got, err := ParseDestination(in)
		if in == "first.last@a@h" {
			if err == nil {
				t.Errorf("%q: want an error (user holds @), got %+v", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("ParseDestination(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if err == nil {
			back, err := ParseDestination(got.String())
			if err != nil || back != got {
				t.Errorf("%q: String %q reads back as %+v, %v", in, got.String(), back, err)
			}
		}
	}
	for _, bad := range []string{"", "@h", "u@", "h:", "h:0", "h:x", "-oProxyCommand=x", "h h", "[::1", "[::1]x", "a/b", "h:99999", "1:2:zz"} {
		if d, err := ParseDestination(bad); err == nil {
			t.Errorf("ParseDestination(%q) = %+v, want an error", bad, d)
		}
	}
}
