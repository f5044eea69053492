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
	"github.com/pipbake/packer-plugin-pipbake/internal/packertest"
	"github.com/pipbake/packer-plugin-pipbake/internal/sshtarget"
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
	// The machine's Python: pyenv's 3.11.7, the corpus's own (as in
	// bench/install). BENCH_PYTHON picks another, e.g. Debian's
	// /usr/bin/python3 (3.11, built with PGO and LTO: its pip is faster).
	py := os.Getenv("BENCH_PYTHON")
	if py == "" {
		py = corpustest.Python(t)
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
	templates := map[string]string{}
	for _, compile := range []bool{true, false} {
		noCompile := ""
		if !compile {
			noCompile = " --no-compile"
		}
		key := fmt.Sprint(compile)
		templates["pipbake/"+key] = p.WriteFile("pipbake-"+key+".pkr.hcl", fmt.Sprintf(header, comm, fmt.Sprintf(`
  provisioner "pipbake" {
    wheelhouse = %q
    agent_path = %q
    set {
      name    = "corpus"
      lock    = %q
      root    = %q
      python  = %q
      compile = %v
    }
  }
`, wheels, agent, lock, filepath.Join(machine, "pipbake"), py, compile)))
		templates["file+shell/"+key] = p.WriteFile("peer-"+key+".pkr.hcl", fmt.Sprintf(header, comm, fmt.Sprintf(`
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
	// What every build pays whatever it provisions: Packer starting, the
	// SSH connection, one shell command.
	templates["floor"] = p.WriteFile("floor.pkr.hcl", fmt.Sprintf(header, comm, `
  provisioner "shell" {
    inline = ["true"]
  }
`))
	cases := []string{"pipbake/true", "file+shell/true", "pipbake/false", "file+shell/false", "floor"}
	times := map[string][]float64{}
	for i := 0; i < runs; i++ {
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
	med := func(xs []float64) float64 {
		s := append([]float64(nil), xs...)
		sort.Float64s(s)
		if len(s)%2 == 1 {
			return s[len(s)/2]
		}
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	var b strings.Builder
	pyVersion, _ := exec.Command(py, "-c", "import sys; print(sys.version.split()[0])").Output()
	fmt.Fprintf(&b, "bench/provision: packer build over loopback SSH, %d wheels, the machine's Python %s (%s), median of %d\n",
		len(set.Wheels), py, strings.TrimSpace(string(pyVersion)), runs)
	for _, name := range cases {
		if len(times[name]) == 0 { // BENCH_ONLY
			continue
		}
		what := strings.Replace(strings.Replace(name, "/true", " (bytecode)", 1), "/false", " (no bytecode)", 1)
		if name == "floor" {
			what = "floor (packer, SSH, one `true`)"
		}
		fmt.Fprintf(&b, "  %-32s %7.2f s   runs: %v\n", what, med(times[name]), round(times[name]))
	}
	if len(times) < len(cases) {
		fmt.Print(b.String())
		return
	}
	fmt.Fprintf(&b, "ratios: with bytecode %.2fx (target 2.5x), without %.2fx (target 5x)\n",
		med(times["file+shell/true"])/med(times["pipbake/true"]), med(times["file+shell/false"])/med(times["pipbake/false"]))
	fmt.Print(b.String())
}

func round(xs []float64) []string {
	var out []string
	for _, x := range xs {
		out = append(out, strconv.FormatFloat(x, 'f', 2, 64))
	}
	return out
}
