// Package examples holds the tests of the example templates and CI files
// under examples/: formatting, `packer validate` offline, and the CI
// files' commands against the template and the pipbake command line.
package examples

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/pipbake/packer-plugin-pipbake/examples/hello"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/packertest"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelpack"
)

// templates are the example folders that hold Packer templates.
func templates(t *testing.T) []string {
	t.Helper()
	matches, err := filepath.Glob("*/*.pkr.hcl")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var dirs []string
	for _, m := range matches {
		if d := filepath.Dir(m); !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	sort.Strings(dirs)
	for _, want := range []string{"aws-ami", "local-ssh"} {
		if !seen[want] {
			t.Errorf("no template in examples/%s", want)
		}
	}
	return dirs
}

// TestFormatted runs `packer fmt -check` on every example template.
func TestFormatted(t *testing.T) {
	p := packertest.New(t, packertest.Options{Quiet: true})
	for _, dir := range templates(t) {
		abs, _ := filepath.Abs(dir)
		if r := p.FmtCheck(abs); !r.OK() {
			t.Errorf("examples/%s is not formatted (packer fmt %s):\n%s", dir, dir, r.Output)
		}
	}
}

// TestValidate runs `packer init` and `packer validate` on the examples,
// offline: the pipbake plugin built from source and packer-plugin-amazon
// (built by .ci/tools.sh) are installed into a fresh plugin folder, so
// init finds everything installed; AWS gets fake credentials and an
// endpoint on a closed port.
func TestValidate(t *testing.T) {
	p := packertest.New(t, packertest.Options{Env: []string{
		"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
		"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_REGION=eu-west-1",
		"AWS_ENDPOINT_URL=http://127.0.0.1:1",
		"AWS_EC2_METADATA_DISABLED=true",
	}})
	p.InstallPlugin()

	// What the templates' variables point at on the Packer host.
	work := t.TempDir()
	lock := filepath.Join(work, "api.txt")
	key := filepath.Join(work, "id_ed25519")
	wheels := filepath.Join(work, "wheels")
	os.MkdirAll(wheels, 0o755)
	// validate checks that the wheelhouse has a wheel of every pin whose
	// hash the lock allows: the hello app's and a Flask wheel.
	if _, err := hello.Build(wheels); err != nil {
		t.Fatal(err)
	}
	b, err := wheelpack.New(wheelpack.Meta{Name: "flask", Version: "3.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	b.Add("flask/__init__.py", 0o644, []byte("# flask\n"))
	flask, err := b.WriteFile(wheels)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(lock, []byte("flask==3.0.0 \\\n    --hash=sha256:"+flask.SHA256+"\n"), 0o644)
	// validate reads the key (the null builder's SSH config); a PKCS#8 PEM
	// key is one it takes.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)

	t.Run("local-ssh", func(t *testing.T) {
		tpl, _ := filepath.Abs("local-ssh")
		p.Init(tpl).Must(t)
		p.Validate(tpl, "-var", "ssh_private_key_file="+key, "-var", "wheelhouse="+wheels, "-var", "api_lock="+lock).Must(t)
	})

	t.Run("aws-ami", func(t *testing.T) {
		p.InstallAmazon(t)
		tpl, _ := filepath.Abs("aws-ami")
		p.Init(tpl).Must(t)
		vars := []string{"-var", "release=1.4.2", "-var", "lock=" + lock, "-var", "wheelhouse=" + wheels}
		p.Validate(tpl, vars...).Must(t)
		// The template's own checks.
		p.Validate(tpl, "-var", "release=1.4.2+build.7", "-var", "lock="+lock, "-var", "wheelhouse="+wheels).
			Fails(t, "it is part of the AMI's name")
		p.Validate(tpl, "-var", "release=1.4.2", "-var", "lock="+filepath.Join(work, "missing.txt"), "-var", "wheelhouse="+wheels).
			Fails(t, "lock")
	})
}

// TestCIExamples checks the CI files against what they run: every -var
// they pass to packer build is a variable of examples/aws-ami, every
// variable it requires is passed, and every flag they give pipbake fetch
// is one it has.
func TestCIExamples(t *testing.T) {
	declared, required := templateVariables(t, "aws-ami")
	varFlag := regexp.MustCompile(`-var[ =]+"?([A-Za-z_][A-Za-z0-9_]*)=`)
	fetchFlags := fetchFlagNames(t)
	for _, name := range []string{"ci/github-actions.yml", "ci/Jenkinsfile"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		if !strings.Contains(text, "packer build") || !strings.Contains(text, "packer init") {
			t.Errorf("%s does not run packer init and packer build", name)
		}
		passed := map[string]bool{}
		for _, m := range varFlag.FindAllStringSubmatch(text, -1) {
			passed[m[1]] = true
			if !declared[m[1]] {
				t.Errorf("%s passes -var %s, which examples/aws-ami does not declare", name, m[1])
			}
		}
		for v := range required {
			if !passed[v] {
				t.Errorf("%s does not pass -var %s, which examples/aws-ami requires", name, v)
			}
		}
		fetches := commands(text, "pipbake fetch ")
		if len(fetches) == 0 {
			t.Errorf("%s does not run pipbake fetch", name)
		}
		for _, c := range fetches {
			for _, f := range regexp.MustCompile(`(?:^|\s)--?([a-z][a-z0-9-]*)`).FindAllStringSubmatch(c, -1) {
				if !fetchFlags[f[1]] {
					t.Errorf("%s: pipbake fetch has no flag -%s", name, f[1])
				}
			}
		}
	}
}

// commands returns each command line in text that starts with prefix,
// with its continuation lines: after a line ending in a backslash, or
// (YAML folded scalars) lines starting with a flag.
func commands(text, prefix string) []string {
	var out []string
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		at := strings.Index(lines[i], prefix)
		if at < 0 {
			continue
		}
		cmd := lines[i][at:]
		for i+1 < len(lines) && (strings.HasSuffix(strings.TrimSpace(lines[i]), "\\") ||
			strings.HasPrefix(strings.TrimSpace(lines[i+1]), "-")) {
			i++
			cmd += " " + strings.TrimSpace(lines[i])
		}
		out = append(out, cmd)
	}
	return out
}

// templateVariables reads the variable blocks of an example's templates:
// all of them, and those without a default.
func templateVariables(t *testing.T, dir string) (declared, required map[string]bool) {
	t.Helper()
	declared, required = map[string]bool{}, map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.pkr.hcl"))
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", path, diags)
		}
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			if b.Type != "variable" || len(b.Labels) != 1 {
				continue
			}
			declared[b.Labels[0]] = true
			if _, ok := b.Body.Attributes["default"]; !ok {
				required[b.Labels[0]] = true
			}
		}
	}
	if len(declared) == 0 {
		t.Fatalf("no variables in examples/%s", dir)
	}
	return declared, required
}

// fetchFlagNames lists `pipbake fetch`'s flags from its help.
func fetchFlagNames(t *testing.T) map[string]bool {
	t.Helper()
	cmd := exec.Command("go", "run", "../cmd/pipbake", "fetch", "-h")
	out, _ := cmd.CombinedOutput() // -h exits non-zero
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z][a-z0-9-]*)`).FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = true
	}
	if !flags["lock"] || !flags["out"] {
		t.Fatalf("pipbake fetch -h lists no -lock/-out flags:\n%s", out)
	}
	return flags
}
