package npm

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/shell"
)

// Runtime is what pipbake knows about the target's node.
type Runtime struct {
	// Node is the program as the set names it ("node", "/usr/bin/node").
	Node string `json:"node"`
	// ExecPath is process.execPath: the node binary's absolute path.
	ExecPath string `json:"exec_path"`
	// Version is process.version without its "v": "20.19.2".
	Version string `json:"version"`
	// Platform and Arch are process.platform and process.arch ("linux",
	// "x64"): what a package's "os" and "cpu" name.
	Platform string `json:"platform"`
	Arch     string `json:"arch"`
	// Libc is "glibc" or "musl" on Linux (what a package's "libc" names),
	// found as npm finds it; "" elsewhere or when unknown.
	Libc string `json:"libc"`
}

// String describes the runtime: "node 20.19.2 (linux x64 glibc)".
func (r *Runtime) String() string {
	p := r.Platform + " " + r.Arch
	if r.Libc != "" {
		p += " " + r.Libc
	}
	return "node " + r.Version + " (" + p + ")"
}

// probeScript prints the runtime as one JSON object. The libc is found
// as npm-install-checks finds it: /usr/bin/ldd's text, else the
// process report (glibc when it has a glibc runtime version, musl when a
// musl loader is among the shared objects).
const probeScript = `
const fs = require('fs');
let libc = '';
if (process.platform === 'linux') {
  let fam;
  try {
    const t = fs.readFileSync('/usr/bin/ldd', 'utf-8');
    fam = t.includes('musl') ? 'musl' : t.includes('GNU C Library') ? 'glibc' : null;
  } catch (e) { fam = undefined; }
  if (fam === undefined && process.report && process.report.getReport) {
    process.report.excludeNetwork = true;
    const r = process.report.getReport();
    const so = Array.isArray(r.sharedObjects) ? r.sharedObjects : [];
    fam = r.header && r.header.glibcVersionRuntime ? 'glibc'
      : so.some(f => f.includes('libc.musl-') || f.includes('ld-musl-')) ? 'musl' : null;
  }
  libc = fam || '';
}
process.stdout.write(JSON.stringify({
  exec_path: process.execPath,
  version: process.version,
  platform: process.platform,
  arch: process.arch,
  libc: libc,
}) + '\n');
`

// Runner runs a shell command line where the target's node is: this
// machine (Local) or the machine being baked (bake.Remote has this
// method). It returns the command's exit status.
type Runner interface {
	Run(ctx context.Context, command string, stdout, stderr io.Writer) (int, error)
}

// Local runs commands on this machine with /bin/sh.
type Local struct {
	// VersionCache, when set, is a folder where Probe keeps what
	// `node --version` answered, keyed by the binary's path and identity
	// (device, inode, size, modification and change times): node starting
	// is most of a probe's 30 to 60 ms, and a binary that is replaced,
	// rewritten or relinked gets a new change time, so it is asked again.
	VersionCache string
}

var _ Runner = Local{}

// Run runs command with sh -c.
func (Local) Run(ctx context.Context, command string, stdout, stderr io.Writer) (int, error) {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}

// ProbeCommand is the shell command that probes node: the probe script
// travels base64-encoded on one line (no upload, any login shell), and
// NODE_OPTIONS, which could load code into it, is cleared.
func ProbeCommand(node string) string {
	js := `eval(Buffer.from("` + base64.StdEncoding.EncodeToString([]byte(probeScript)) + `","base64").toString())`
	return "env -u NODE_OPTIONS -u NODE_PATH " + shell.Quote(node) + " -e " + shell.Quote(js)
}

// Probe runs node once through r and describes it. On this machine
// (Local) it first tries probeFast, which does not start node's engine.
func Probe(ctx context.Context, r Runner, node string) (*Runtime, error) {
	if node == "" {
		node = "node"
	}
	if l, local := r.(Local); local {
		if rt, ok := probeFast(ctx, node, l.VersionCache); ok {
			return rt, nil
		}
	}
	var stdout, stderr bytes.Buffer
	code, err := r.Run(ctx, ProbeCommand(node), &stdout, &stderr)
	if err != nil {
		return nil, fmt.Errorf("probe node %q: %w", node, err)
	}
	if code != 0 {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 600 {
			msg = "..." + msg[len(msg)-600:]
		}
		if code == 127 {
			return nil, fmt.Errorf("probe node %q: not found (exit status 127); install Node.js on the machine or give its path (node = \"/usr/bin/node\"): %s", node, msg)
		}
		return nil, fmt.Errorf("probe node %q: exit status %d: %s", node, code, msg)
	}
	return DecodeProbe(stdout.Bytes(), node)
}

// DecodeProbe reads ProbeCommand's output; node is the program it ran.
func DecodeProbe(out []byte, node string) (*Runtime, error) {
	// A PTY may add \r; a login shell may print before the command runs.
	out = bytes.TrimSpace(out)
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		out = bytes.TrimSpace(out[i+1:])
	}
	var r Runtime
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("probe node %q: read its answer %s: %w", node, quote(string(out)), err)
	}
	r.Node = node
	r.Version = strings.TrimPrefix(r.Version, "v")
	if _, err := ParseVersion(r.Version); err != nil {
		return nil, fmt.Errorf("probe node %q: version %s: %w", node, quote(r.Version), err)
	}
	if r.Platform == "" || r.Arch == "" {
		return nil, fmt.Errorf("probe node %q: no platform or arch in its answer", node)
	}
	return &r, nil
}

// LookNode resolves node on this machine's PATH (for local runs).
func LookNode(node string) (string, error) {
	if node == "" {
		node = "node"
	}
	p, err := exec.LookPath(node)
	if err != nil {
		return "", fmt.Errorf("find node %q: %w", node, err)
	}
	return p, nil
}
