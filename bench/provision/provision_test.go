// Package provision is the bench/provision benchmark, written as a Go test
// so it can reuse the end-to-end harness (real Packer, loopback sshd). It
// runs only when PIPBAKE_BENCH=1 (bench/provision/run sets it) and asserts
// nothing about time: it prints what it measured.
package provision

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/packertest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/sshtarget"
)

const header = `packer {
  required_plugins {
    pipbake = {
      source  = "github.com/pipbake/pipbake"
      version = ">= 0.0.1"
    }
  }
}

source "null" "m" {
%s}

build {
  sources = ["source.null.m"]
%s}
`

func TestBenchProvision(t *testing.T) {
	if os.Getenv("PIPBAKE_BENCH") != "1" {
		t.Skip("a benchmark: run bench/provision/run")
	}
	runs, _ := strconv.Atoi(os.Getenv("RUNS"))
	if runs < 1 {
		runs = 3
	}
	set := corpustest.Set(t) // wheels repacked from pyenv's 3.11
	// The machine's two Pythons 3.11, each a case of its own: pyenv's
	// 3.11.7 (the corpus's own, as in bench/install) and Debian's
	// /usr/bin/python3 (built with PGO and LTO: its pip runs and compiles
	// faster, which moves both ratios). BENCH_PYTHON (space-separated)
	// picks others.
	pythons := strings.Fields(os.Getenv("BENCH_PYTHON"))
	if len(pythons) == 0 {
		pythons = []string{corpustest.Python(t)}
		if out, err := exec.Command("/usr/bin/python3", "-c", "import sys; print(sys.version_info[:2] == (3, 11))").Output(); err == nil && strings.TrimSpace(string(out)) == "True" {
			pythons = append(pythons, "/usr/bin/python3")
		}
	}
	work := t.TempDir()
	if d := os.Getenv("BENCH_DIR"); d != "" {
		work = d
	}
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
	// the agent release builds embed: a lean pipbake (-tags pipbake_agent)
	agent := filepath.Join(work, "pipbake-agent")
	if out, err := exec.Command("go", "build", "-tags", "pipbake_agent", "-trimpath", "-ldflags", "-s -w", "-o", agent, "../../cmd/pipbake").CombinedOutput(); err != nil {
		t.Fatalf("build the agent: %v\n%s", err, out)
	}
	p := packertest.New(t, packertest.Options{Quiet: true})
	// The machine as launched: no developer shell setup read per command.
	srv := sshtarget.StartT(t, sshtarget.Options{NoShellRC: true})
	p.InstallPlugin()
	comm := srv.CommunicatorHCL()

	machine := filepath.Join(work, "machine")
	// What every build pays whatever it provisions: Packer starting, the
	// SSH connection, one shell command.
	floor := p.WriteFile("floor.pkr.hcl", fmt.Sprintf(header, comm, `
  provisioner "shell" {
    inline = ["true"]
  }
`))
	type result struct {
		py    string
		times map[string][]float64
	}
	var results []result
	// pipbake/true compiles everything on the machine (bytecode_cache
	// off); pipbake/warm takes every .pyc from a host cache that an
	// earlier bake of the same lock filled.
	cases := []string{"pipbake/true", "pipbake/warm", "file+shell/true", "pipbake/false", "file+shell/false", "floor"}
	for k, py := range pythons {
		templates := map[string]string{"floor": floor}
		hostCache := filepath.Join(work, fmt.Sprintf("host-bytecode-%d", k))
		templates["pipbake/warm"] = p.WriteFile(fmt.Sprintf("pipbake-%d-warm.pkr.hcl", k), fmt.Sprintf(header, comm, fmt.Sprintf(`
  provisioner "pipbake" {
    wheelhouse     = %q
    agent_path     = %q
    bytecode_cache = %q
    set {
      name    = "corpus"
      lock    = %q
      root    = %q
      python  = %q
    }
  }
`, wheels, agent, hostCache, lock, filepath.Join(machine, "pipbake"), py)))
		for _, compile := range []bool{true, false} {
			noCompile := ""
			if !compile {
				noCompile = " --no-compile"
			}
			key := fmt.Sprint(compile)
			templates["pipbake/"+key] = p.WriteFile(fmt.Sprintf("pipbake-%d-%s.pkr.hcl", k, key), fmt.Sprintf(header, comm, fmt.Sprintf(`
  provisioner "pipbake" {
    wheelhouse     = %q
    agent_path     = %q
    bytecode_cache = "off"
    set {
      name    = "corpus"
      lock    = %q
      root    = %q
      python  = %q
      compile = %v
    }
  }
`, wheels, agent, lock, filepath.Join(machine, "pipbake"), py, compile)))
			templates["file+shell/"+key] = p.WriteFile(fmt.Sprintf("peer-%d-%s.pkr.hcl", k, key), fmt.Sprintf(header, comm, fmt.Sprintf(`
  provisioner "shell" {
    inline = ["mkdir -p %[1]s/upload/wheels"]
  }
  provisioner "file" {
    source      = "%[2]s/"
    destination = "%[1]s/upload/wheels"
  }
  provisioner "file" {
    source      = %[3]q
    destination = "%[1]s/upload/all.txt"
  }
  provisioner "shell" {
    env = { PIP_DISABLE_PIP_VERSION_CHECK = "1" }
    inline = [
      "%[4]s -m venv %[1]s/venv",
      "%[1]s/venv/bin/python -m pip install -q --no-index --no-deps --require-hashes --find-links %[1]s/upload/wheels -r %[1]s/upload/all.txt%[5]s",
    ]
  }
`, filepath.Join(machine, "peer"), wheels, lock, py, noCompile)))
		}
		// fill the host cache
		os.RemoveAll(machine)
		os.MkdirAll(machine, 0o755)
		p.Build(templates["pipbake/warm"]).Must(t)
		times := map[string][]float64{}
		for i := 0; i < runs; i++ { // interleaved, so load spreads over every case
			for _, name := range cases {
				if only := os.Getenv("BENCH_ONLY"); only != "" && only != name {
					continue
				}
				os.RemoveAll(machine)
				os.MkdirAll(machine, 0o755)
				start := time.Now()
				r := p.Build(templates[name], "-timestamp-ui").Must(t)
				if os.Getenv("BENCH_SHOW") != "" {
					fmt.Println(r.Output)
				}
				times[name] = append(times[name], time.Since(start).Seconds())
			}
		}
		results = append(results, result{py, times})
	}
	med := func(xs []float64) float64 {
		s := append([]float64(nil), xs...)
		sort.Float64s(s)
		if len(s)%2 == 1 {
			return s[len(s)/2]
		}
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	var b strings.Builder
	for _, res := range results {
		pyVersion, _ := exec.Command(res.py, "-c", "import sys; print(sys.version.split()[0])").Output()
		fmt.Fprintf(&b, "bench/provision: packer build over loopback SSH, %d wheels, the machine's Python %s (%s), median of %d\n",
			len(set.Wheels), res.py, strings.TrimSpace(string(pyVersion)), runs)
		times := res.times
		for _, name := range cases {
			if len(times[name]) == 0 { // BENCH_ONLY
				continue
			}
			what := strings.Replace(strings.Replace(strings.Replace(name, "/true", " (bytecode)", 1), "/false", " (no bytecode)", 1), "/warm", " (bytecode, warm host cache)", 1)
			if name == "floor" {
				what = "floor (packer, SSH, one `true`)"
			}
			fmt.Fprintf(&b, "  %-36s %7.2f s   runs: %v\n", what, med(times[name]), round(times[name]))
		}
		if len(times) == len(cases) {
			fmt.Fprintf(&b, "  ratios: with bytecode %.2fx (target 2.5x), without %.2fx (target 5x), with bytecode from a warm host cache %.2fx (target 5x)\n",
				med(times["file+shell/true"])/med(times["pipbake/true"]), med(times["file+shell/false"])/med(times["pipbake/false"]),
				med(times["file+shell/true"])/med(times["pipbake/warm"]))
		}
	}
	fmt.Print(b.String())
}

func round(xs []float64) []string {
	var out []string
	for _, x := range xs {
		out = append(out, strconv.FormatFloat(x, 'f', 2, 64))
	}
	return out
}
