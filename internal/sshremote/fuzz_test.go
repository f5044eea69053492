package sshremote

import (
	"reflect"
	"strings"
	"testing"
)

// formatEntries writes entries back as a config, every argument quoted.
func formatEntries(es []entry) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString(e.key)
		for _, a := range e.args {
			b.WriteString(` "`)
			b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(a))
			b.WriteString(`"`)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func FuzzConfig(f *testing.F) {
	for _, s := range []string{
		"Host web-* !web-canary\n  HostName %h.example.com\n  User deploy\n  Port=2222\n  IdentityFile ~/.ssh/id_%r\nHost *\n  StrictHostKeyChecking accept-new\n",
		"Match host a.example,b* !originalhost c\n  Port 7\nMatch all\n  User \"x y\" # comment\n",
		"ProxyJump u@j1:22,[::1]:2200\nUserKnownHostsFile ~/.ssh/k1 'k 2'\nIdentityAgent none\nInclude conf.d/*\n",
		"Host \"quoted pattern\" ?x*\n\tConnectTimeout 5\n\tServerAliveInterval 10\n\tGlobalKnownHostsFile none\n",
		"User \\\"a\\\\b\\ c\nHostName %%h%h\n",
		"Port 0\nHost\nUser \"unterminated\n",
	} {
		f.Add([]byte(s), "web-1")
	}
	f.Fuzz(func(t *testing.T, data []byte, alias string) {
		c, err := ParseConfig("fuzz.conf", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.conf") {
				t.Fatalf("error does not name the file: %.200v", err)
			}
			return
		}
		h := c.Resolve(alias, testEnv)
		if h.Port < 1 || h.Port > 65535 {
			t.Fatalf("port %d", h.Port)
		}
		if h.StrictHostKeyChecking != "yes" && h.StrictHostKeyChecking != "accept-new" {
			t.Fatalf("StrictHostKeyChecking %q", h.StrictHostKeyChecking)
		}
		if len(h.IdentityFiles) > 100 || len(h.Warnings) > maxProblems {
			t.Fatalf("%d identity files, %d warnings", len(h.IdentityFiles), len(h.Warnings))
		}
		if again := c.Resolve(alias, testEnv); !reflect.DeepEqual(h, again) {
			t.Fatalf("Resolve is not deterministic:\n%+v\n%+v", h, again)
		}
		// written back with every argument quoted, the config reads the same
		back, err := ParseConfig("back.conf", []byte(formatEntries(c.entries)))
		if err != nil {
			t.Fatalf("formatted config does not parse: %v\n%s", err, formatEntries(c.entries))
		}
		if len(back.entries) != len(c.entries) {
			t.Fatalf("%d entries, %d after the round trip", len(c.entries), len(back.entries))
		}
		for i := range c.entries {
			a, b := c.entries[i], back.entries[i]
			if a.key != b.key || !reflect.DeepEqual(a.args, b.args) && (len(a.args) > 0 || len(b.args) > 0) {
				t.Fatalf("entry %d: %q %q, after the round trip %q %q", i, a.key, a.args, b.key, b.args)
			}
		}
		h2 := back.Resolve(alias, testEnv)
		h.Warnings, h2.Warnings = nil, nil
		if !reflect.DeepEqual(h, h2) {
			t.Fatalf("Resolve after the round trip:\n%+v\n%+v", h, h2)
		}
	})
}

func FuzzDestination(f *testing.F) {
	for _, s := range []string{"h", "u@h:22", "[::1]:2222", "ssh://u@h:7/", "u@[fe80::1%eth0]", "-oProxyCommand=x", "a@b@c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDestination(s)
		if err != nil {
			return
		}
		if d.Host == "" || strings.HasPrefix(d.Host, "-") || strings.HasPrefix(d.User, "-") || strings.ContainsAny(d.Host+d.User, " \t\n/@") {
			t.Fatalf("%q: accepted %+v", s, d)
		}
		if d.Port < 0 || d.Port > 65535 {
			t.Fatalf("%q: port %d", s, d.Port)
		}
		back, err := ParseDestination(d.String())
		if err != nil || back != d {
			t.Fatalf("%q: %+v renders as %q, which reads back as %+v, %v", s, d, d.String(), back, err)
		}
	})
}
