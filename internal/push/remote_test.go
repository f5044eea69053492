package push

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
)

func TestAgentCommand(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{}, "chmod +x '/tmp/s d/pipbake' && '/tmp/s d/pipbake' install -f x"},
		{Options{Sudo: true}, "chmod +x '/tmp/s d/pipbake' && sudo -n -- '/tmp/s d/pipbake' install -f x"},
		{Options{Sudo: true, SudoPassword: "pw"}, "chmod +x '/tmp/s d/pipbake' && sudo -S -p '' -- '/tmp/s d/pipbake' install -f x"},
	} {
		got, err := tc.o.agentCommand("/tmp/s d/pipbake", "install -f x")
		if err != nil || got != tc.want {
			t.Errorf("%+v: %q, %v; want %q", tc.o, got, err, tc.want)
		}
		if strings.Contains(got, "pw") {
			t.Errorf("the password is on the command line: %q", got)
		}
	}
}

func TestPrefixWriter(t *testing.T) {
	var out bytes.Buffer
	w := newPrefixWriter(&out, "[h1] ")
	w.Write([]byte("one\ntw"))
	w.Write([]byte("o\r\nthree"))
	w.Flush()
	if out.String() != "[h1] one\n[h1] two\n[h1] three\n" {
		t.Errorf("%q", out.String())
	}
	newPrefixWriter(nil, "x").Write([]byte("no writer\n"))
}

func TestOptionsCheck(t *testing.T) {
	base := Options{Sets: []plan.Set{{Name: "a", Lock: "l", Root: "/r"}}, Hosts: []string{"web-1"}}
	for _, tc := range []struct {
		mod  func(*Options)
		want string
	}{
		{func(o *Options) { o.Hosts = nil }, "no hosts"},
		{func(o *Options) { o.Hosts = []string{"web-1", "web-1"} }, "listed twice"},
		{func(o *Options) { o.Hosts = []string{"-oProxyCommand=x"} }, "must not start with -"},
		{func(o *Options) { o.Parallel, o.Rolling = 2, 2 }, "not both"},
		{func(o *Options) { o.Sets = nil }, "no sets"},
	} {
		o := base
		tc.mod(&o)
		if err := o.check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
	if err := base.check(); err != nil {
		t.Error(err)
	}
}
