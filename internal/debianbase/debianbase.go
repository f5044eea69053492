// Package debianbase makes a Debian base image with Python, for tests,
// benchmarks and the OCI demo: `debootstrap --variant=minbase
// --include=python3,python3-venv bookworm` from the machine's Debian
// mirror, cleaned of what would leak from the build host (resolv.conf,
// host name, downloaded packages, apt lists, device nodes), turned into a
// one-layer OCI image layout and cached:
//
//	${PIPBAKE_DEV_CACHE:-~/.cache/pipbake-dev}/base/<key>/layout
//
// where <key> hashes the suite, packages and architecture. The first call
// takes one to two minutes; later ones return at once.
package debianbase

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/pipbake/packer-plugin-pipbake/internal/layer"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
	"github.com/pipbake/packer-plugin-pipbake/internal/rootfs"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
)

// Options choose the base.
type Options struct {
	// Cache is the cache root (default DefaultCache()).
	Cache string
	// Suite defaults to bookworm; Packages to python3 and python3-venv.
	Suite    string
	Packages []string
	// Mirror defaults to $PIPBAKE_DEBIAN_MIRROR, else the machine's apt
	// sources.
	Mirror string
	// Log gets debootstrap's output (default: discarded).
	Log io.Writer
}

// ErrNoDebootstrap means debootstrap is not installed.
var ErrNoDebootstrap = errors.New("debootstrap is not installed (apt-get install debootstrap)")

// DefaultCache is ${PIPBAKE_DEV_CACHE:-~/.cache/pipbake-dev}.
func DefaultCache() string {
	if d := os.Getenv("PIPBAKE_DEV_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "pipbake-dev")
	}
	return filepath.Join(home, ".cache", "pipbake-dev")
}

func (o *Options) defaults() {
	if o.Cache == "" {
		o.Cache = DefaultCache()
	}
	if o.Suite == "" {
		o.Suite = "bookworm"
	}
	if len(o.Packages) == 0 {
		o.Packages = []string{"python3", "python3-venv"}
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// Key names the cached base.
func (o Options) Key() string {
	o.defaults()
	sum := sha256.Sum256([]byte(strings.Join([]string{"v1", o.Suite, strings.Join(o.Packages, ","), runtime.GOARCH}, "\n")))
	return o.Suite + "-" + hex.EncodeToString(sum[:6])
}

// Cached returns the layout if it is already built.
func Cached(o Options) (string, bool) {
	o.defaults()
	dir := filepath.Join(o.Cache, "base", o.Key(), "layout")
	_, err := os.Stat(filepath.Join(dir, "index.json"))
	return dir, err == nil
}

// Layout returns the base's OCI layout folder, building it first when it
// is not cached.
func Layout(ctx context.Context, o Options) (string, error) {
	o.defaults()
	if dir, ok := Cached(o); ok {
		return dir, nil
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		if _, err := os.Stat("/usr/sbin/debootstrap"); err != nil {
			return "", ErrNoDebootstrap
		}
	}
	if os.Geteuid() != 0 {
		return "", errors.New("debootstrap needs root")
	}
	base := filepath.Join(o.Cache, "base")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(base, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	unlock, err := lockFile(lock)
	if err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer unlock()
	if dir, ok := Cached(o); ok { // built while we waited
		return dir, nil
	}
	if o.Mirror == "" {
		if o.Mirror, err = Mirror(); err != nil {
			return "", err
		}
	}
	work, err := os.MkdirTemp(base, ".build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	root := filepath.Join(work, "root")
	created := time.Now().UTC().Truncate(time.Second)
	args := []string{"--variant=minbase", "--include=" + strings.Join(o.Packages, ","), o.Suite, root, o.Mirror}
	fmt.Fprintf(o.Log, "debianbase: debootstrap %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "debootstrap", args...)
	out := newDebootstrapOutput(o.Log) // progress.go
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = target.CleanEnv(os.Environ())
	err = cmd.Run()
	if last := out.close(err != nil); err != nil {
		return "", fmt.Errorf("debootstrap: %w%s", err, last)
	}
	if err := clean(root); err != nil {
		return "", err
	}
	img, err := imageOf(root, filepath.Join(work, "store"), created)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(base, o.Key(), "layout")
	if err := ociimage.WriteLayout(dir, img, "debian:"+o.Suite+"-python"); err != nil {
		return "", err
	}
	return dir, nil
}

// clean removes what debootstrap leaves that belongs to the build host or
// the download rather than the system.
func clean(root string) error {
	for _, pat := range []string{"var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*", "dev/*", "tmp/*", "var/tmp/*",
		"etc/resolv.conf", "var/log/bootstrap.log"} {
		m, _ := filepath.Glob(filepath.Join(root, pat))
		for _, p := range m {
			if filepath.Base(p) == "lock" || filepath.Base(p) == "partial" {
				continue
			}
			if err := os.RemoveAll(p); err != nil {
				return err
			}
		}
	}
	return os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("localhost\n"), 0o644)
}

// imageOf makes a one-layer OCI image of root.
func imageOf(root, storeDir string, created time.Time) (v1.Image, error) {
	var changes []layer.Change
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		changes = append(changes, layer.Change{Path: filepath.ToSlash(rel), Kind: layer.Write})
		return nil
	})
	if err != nil {
		return nil, err
	}
	store := &layer.Store{Dir: storeDir}
	res, err := store.Build(func(w io.Writer) error {
		return layer.WriteTar(w, rootfs.View{Dirs: []string{root}}, changes, created)
	}, layer.Gzip)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: res.Layer, History: v1.History{
		Created: v1.Time{Time: created}, CreatedBy: "debootstrap --variant=minbase (pipbake debianbase)"}})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: created}
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	cf.Config.Cmd = []string{"/bin/bash"}
	return mutate.ConfigFile(img, cf)
}

// Mirror returns $PIPBAKE_DEBIAN_MIRROR, else the first Debian archive
// URI of the machine's apt sources (deb822 .sources files or
// sources.list lines), skipping security archives.
func Mirror() (string, error) {
	if m := os.Getenv("PIPBAKE_DEBIAN_MIRROR"); m != "" {
		return m, nil
	}
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	files = append(files, "/etc/apt/sources.list")
	more, _ := filepath.Glob("/etc/apt/sources.list.d/*.list")
	files = append(files, more...)
	for _, f := range files {
		if u := mirrorIn(f); u != "" {
			return u, nil
		}
	}
	return "", errors.New("no Debian mirror in /etc/apt/sources.list*; set PIPBAKE_DEBIAN_MIRROR")
}

func mirrorIn(file string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		var uris []string
		if v, ok := strings.CutPrefix(line, "URIs:"); ok {
			uris = strings.Fields(v)
		} else if strings.HasPrefix(line, "deb ") {
			for _, fld := range strings.Fields(line)[1:] {
				if strings.Contains(fld, "://") {
					uris = []string{fld}
					break
				}
			}
		}
		for _, u := range uris {
			if strings.Contains(u, "/debian") && !strings.Contains(u, "security") {
				return u
			}
		}
	}
	return ""
}
