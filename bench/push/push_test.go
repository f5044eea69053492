// Package push is the bench/push benchmark, written as a Go test so it can
// reuse the end-to-end harness: four loopback "hosts" (sshd chrooted into
// Debian roots of their own), the whole repacked corpus pushed to all four
// at once with `pipbake push --parallel 4`, against the same push done
// the usual way (Fabric-style: scp the wheels, then `python3 -m venv` and
// `pip install --no-index --require-hashes` over ssh, four hosts at once).
// pipbake runs with its local bytecode cache off, and again with one warmed
// by an untimed push first.
// It runs only when PIPBAKE_BENCH=1 (bench/push/run sets it) and asserts
// nothing about time: it prints what it measured.
package push

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/basetest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/sshtarget"
)

func TestBenchPush(t *testing.T) {
	if os.Getenv("PIPBAKE_BENCH") != "1" {
		t.Skip("a benchmark: run bench/push/run")
	}
	runs, _ := strconv.Atoi(os.Getenv("RUNS"))
	if runs < 1 {
		runs = 3
	}
	nhosts, _ := strconv.Atoi(os.Getenv("HOSTS"))
	if nhosts < 1 {
		nhosts = 4
	}
	set := corpustest.Set(t)
	work := t.TempDir()
	wheels := filepath.Join(work, "wheels")
	os.MkdirAll(wheels, 0o755)
	for _, w := range set.Wheels {
		data, err := os.ReadFile(w.Path)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(wheels, w.File), data, 0o644)
	}
	lock := filepath.Join(work, "all.txt")
	if err := corpus.WriteRequirements(lock, set.Wheels); err != nil {
		t.Fatal(err)
	}
	// pipbake, and the lean agent release builds embed
	bin, agent := filepath.Join(work, "pipbake"), filepath.Join(work, "pipbake-agent")
	for _, args := range [][]string{{"-o", bin}, {"-tags", "pipbake_agent", "-o", agent}} {
		args = append(append([]string{"build", "-trimpath", "-ldflags", "-s -w"}, args...), "../../cmd/pipbake")
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
	}

	// the hosts, an ssh config naming them and their known keys, which
	// OpenSSH's ssh and scp read as well
	type host struct {
		name, root string
	}
	var hosts []host
	var cfg, known strings.Builder
	for i := 0; i < nhosts; i++ {
		root := basetest.MachineRoot(t)
		srv := sshtarget.StartT(t, sshtarget.Options{Chroot: root})
		h := host{name: fmt.Sprintf("h%d", i+1), root: root}
		hosts = append(hosts, h)
		fmt.Fprintf(&cfg, "Host %s\n    HostName 127.0.0.1\n    Port %d\n    User %s\n    IdentityFile %s\n", h.name, srv.Port, srv.User, srv.PrivateKeyPath)
		data, _ := os.ReadFile(srv.KnownHostsPath)
		known.Write(data)
	}
	knownPath := filepath.Join(work, "known_hosts")
	os.WriteFile(knownPath, []byte(known.String()), 0o600)
	fmt.Fprintf(&cfg, "Host *\n    UserKnownHostsFile %s\n    GlobalKnownHostsFile /dev/null\n    IdentityAgent none\n    IdentitiesOnly yes\n    BatchMode yes\n", knownPath)
	sshConfig := filepath.Join(work, "ssh_config")
	os.WriteFile(sshConfig, []byte(cfg.String()), 0o600)
	var names []string
	for _, h := range hosts {
		names = append(names, h.name)
	}

	plans := map[bool]string{}
	for _, compile := range []bool{true, false} {
		p := filepath.Join(work, fmt.Sprintf("pipbake-%v.hcl", compile))
		os.WriteFile(p, []byte(fmt.Sprintf(`
wheelhouse = %q
set {
  name    = "corpus"
  lock    = %q
  root    = "/opt/corpus"
  python  = "/usr/bin/python3"
  compile = %v
}
`, wheels, lock, compile)), 0o644)
		plans[compile] = p
	}
	env := append(os.Environ(), "HOME="+work, "SSH_AUTH_SOCK=")
	run := func(name string, args ...string) error {
		cmd := exec.Command(name, args...)
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
		}
		if os.Getenv("BENCH_SHOW") != "" {
			fmt.Print(out.String())
		}
		return nil
	}
	release := 0
	// the local bytecode cache: off (every host compiles everything), or
	// one warmed by an untimed push first (what a team pushing release
	// after release has)
	warmCache := filepath.Join(work, "bytecode")
	pipbakePush := func(compile bool, cache string) error {
		release++
		args := []string{"push", "-f", plans[compile], "--ssh-config", sshConfig, "--agent", agent, "--parallel", strconv.Itoa(nhosts), "--release", strconv.Itoa(release), "--bytecode-cache", cache}
		for _, n := range names {
			args = append(args, "--host", n)
		}
		return run(bin, args...)
	}
	// Fabric-style, per host at once: copy the wheels and the lock, make
	// a venv, pip install from them (pip compiles unless --no-compile)
	fabric := func(compile bool) error {
		noCompile := ""
		if !compile {
			noCompile = " --no-compile"
		}
		var wg sync.WaitGroup
		errs := make([]error, len(names))
		for i, n := range names {
			wg.Add(1)
			go func(i int, n string) {
				defer wg.Done()
				if err := run("scp", "-q", "-r", "-F", sshConfig, wheels, n+":/tmp/wheels"); err != nil {
					errs[i] = err
					return
				}
				if err := run("scp", "-q", "-F", sshConfig, lock, n+":/tmp/wheels/all.txt"); err != nil {
					errs[i] = err
					return
				}
				errs[i] = run("ssh", "-F", sshConfig, n, "PIP_DISABLE_PIP_VERSION_CHECK=1 sh -c 'python3 -m venv /opt/peer && /opt/peer/bin/python -m pip install -q --no-index --no-deps --require-hashes --find-links /tmp/wheels -r /tmp/wheels/all.txt"+noCompile+"'")
			}(i, n)
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}
	reset := func() {
		for _, h := range hosts {
			for _, p := range []string{"opt/corpus", "opt/peer", "tmp/wheels", "var/lib/pipbake"} {
				os.RemoveAll(filepath.Join(h.root, p))
			}
			left, _ := filepath.Glob(filepath.Join(h.root, "tmp/pipbake-push-*"))
			for _, l := range left {
				os.RemoveAll(l)
			}
		}
		exec.Command("sync").Run()
	}
	cases := []string{"pipbake/true", "pipbake+cache/true", "fabric/true", "pipbake/false", "fabric/false"}
	if only := os.Getenv("BENCH_ONLY"); only != "" {
		cases = strings.Fields(only)
	}
	for _, c := range cases {
		if c == "pipbake+cache/true" { // warm the cache, untimed
			reset()
			if err := pipbakePush(true, warmCache); err != nil {
				t.Fatal(err)
			}
		}
	}
	times := map[string][]float64{}
	for i := 0; i < runs; i++ { // interleaved, so load spreads over every case
		for _, c := range cases {
			tool, compile, _ := strings.Cut(c, "/")
			reset()
			start := time.Now()
			var err error
			switch tool {
			case "pipbake":
				err = pipbakePush(compile == "true", "off")
			case "pipbake+cache":
				err = pipbakePush(compile == "true", warmCache)
			default:
				err = fabric(compile == "true")
			}
			if err != nil {
				t.Fatal(err)
			}
			times[c] = append(times[c], time.Since(start).Seconds())
			// every host got every distribution
			for _, h := range hosts {
				site := filepath.Join(h.root, "opt/peer/lib/python3.11/site-packages")
				if tool != "fabric" {
					site = filepath.Join(h.root, "opt/corpus/current/lib/python3.11/site-packages")
				}
				infos, _ := filepath.Glob(filepath.Join(site, "*.dist-info"))
				// (the venv pip makes may hold more: ensurepip's own)
				if len(infos) < len(set.Wheels) || tool != "fabric" && len(infos) != len(set.Wheels) {
					t.Fatalf("%s %s: %d distributions installed, want %d", c, h.name, len(infos), len(set.Wheels))
				}
			}
		}
	}
	reset()
	med := func(xs []float64) float64 {
		s := append([]float64(nil), xs...)
		sort.Float64s(s)
		if len(s)%2 == 1 {
			return s[len(s)/2]
		}
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	pyVersion, _ := exec.Command("chroot", hosts[0].root, "/usr/bin/python3", "-c", "import sys; print(sys.version.split()[0])").Output()
	fmt.Printf("bench/push: %d wheels to %d loopback hosts at once (Python %s on each), median of %d\n", len(set.Wheels), nhosts, strings.TrimSpace(string(pyVersion)), runs)
	for _, c := range cases {
		what := strings.Replace(strings.Replace(c, "/true", " (bytecode)", 1), "/false", " (no bytecode)", 1)
		what = strings.Replace(what, "fabric", "scp + venv + pip over ssh", 1)
		what = strings.Replace(what, "pipbake+cache", "pipbake, warm bytecode cache,", 1)
		what = strings.Replace(what, "pipbake", "pipbake push --parallel "+strconv.Itoa(nhosts), 1)
		var rs []string
		for _, x := range times[c] {
			rs = append(rs, strconv.FormatFloat(x, 'f', 2, 64))
		}
		fmt.Printf("  %-46s %7.2f s   runs: %s\n", what, med(times[c]), strings.Join(rs, " "))
	}
	if len(times["pipbake/true"]) > 0 && len(times["fabric/true"]) > 0 {
		fmt.Printf("  ratio with bytecode: %.2fx (target 3x)\n", med(times["fabric/true"])/med(times["pipbake/true"]))
	}
	if len(times["pipbake+cache/true"]) > 0 && len(times["fabric/true"]) > 0 {
		fmt.Printf("  ratio with bytecode, warm cache: %.2fx (target 3x)\n", med(times["fabric/true"])/med(times["pipbake+cache/true"]))
	}
	if len(times["pipbake/false"]) > 0 && len(times["fabric/false"]) > 0 {
		fmt.Printf("  ratio without bytecode: %.2fx\n", med(times["fabric/false"])/med(times["pipbake/false"]))
	}
}
