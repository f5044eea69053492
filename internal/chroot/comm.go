package chroot

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// Communicator is a Packer communicator into a Session's root: commands
// run through the helper's chroot, uploads and downloads are file
// operations done inside it.
type Communicator struct {
	Session *Session
	// Ctx bounds every operation (Packer's Upload and Download take none).
	Ctx context.Context
}

var _ packersdk.Communicator = (*Communicator)(nil)

func (c *Communicator) ctx() context.Context {
	if c.Ctx == nil {
		return context.Background()
	}
	return c.Ctx
}

// Start runs cmd.Command with /bin/sh -c in the root.
func (c *Communicator) Start(ctx context.Context, cmd *packersdk.RemoteCmd) error {
	// Either the caller's context or the build's (Ctx) ends the command.
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.ctx(), cancel)
	go func() {
		defer cancel()
		defer stop()
		code, err := c.Session.Run(ctx, cmd.Command, cmd.Stdin, cmd.Stdout, cmd.Stderr)
		if err != nil {
			if cmd.Stderr != nil {
				fmt.Fprintf(cmd.Stderr, "%v\n", err)
			}
			if code < 0 {
				code = 125
			}
		}
		cmd.SetExited(code)
	}()
	return nil
}

// Upload writes r to dst in the root, with fi's mode when given.
func (c *Communicator) Upload(dst string, r io.Reader, fi *os.FileInfo) error {
	mode := os.FileMode(0o644)
	if fi != nil && *fi != nil {
		mode = (*fi).Mode().Perm()
	}
	return c.Session.Put(c.ctx(), dst, r, mode)
}

// UploadDir copies the host folder src into dst like Packer's other
// communicators: with a trailing slash on src its contents go into dst,
// without one the folder itself does (dst/<base of src>).
func (c *Communicator) UploadDir(dst, src string, exclude []string) error {
	if !strings.HasSuffix(src, "/") {
		dst = path.Join(dst, filepath.Base(src))
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarDir(pw, src, exclude)) }()
	err := c.Session.PutTar(c.ctx(), dst, pr)
	pr.CloseWithError(err)
	return err
}

// Download copies the root's file src to w.
func (c *Communicator) Download(src string, w io.Writer) error {
	return c.Session.Get(c.ctx(), src, w)
}

// DownloadDir copies the root's folder src to the host folder dst, with
// the same trailing-slash rule as UploadDir.
func (c *Communicator) DownloadDir(src, dst string, exclude []string) error {
	if !strings.HasSuffix(src, "/") {
		dst = filepath.Join(dst, path.Base(src))
	}
	var buf bytes.Buffer
	if err := c.Session.GetTar(c.ctx(), src, &buf); err != nil {
		return err
	}
	return untarHost(dst, &buf, exclude)
}

func excluded(rel string, exclude []string) bool {
	for _, x := range exclude {
		if ok, _ := filepath.Match(x, rel); ok || x == rel {
			return true
		}
		if ok, _ := filepath.Match(x, filepath.Base(rel)); ok {
			return true
		}
	}
	return false
}

func tarDir(w io.Writer, src string, exclude []string) error {
	tw := tar.NewWriter(w)
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "." {
			return nil
		}
		if excluded(rel, exclude) {
			if fi.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		return addTar(tw, p, filepath.ToSlash(rel), fi, false)
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// addTar writes one file, link or folder as name; with owners false it is
// owned by root, as what is copied into the root should be.
func addTar(tw *tar.Writer, p, name string, fi os.FileInfo, owners bool) error {
	link := ""
	if fi.Mode()&os.ModeSymlink != 0 {
		link, _ = os.Readlink(p)
	}
	h, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return nil // sockets and the like are skipped
	}
	h.Name = name
	h.Uname, h.Gname = "", ""
	if !owners {
		h.Uid, h.Gid = 0, 0
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if fi.Mode().IsRegular() {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	}
	return nil
}

// untarHost extracts a downloaded tar into a host folder, refusing names
// that leave it.
func untarHost(dst string, r io.Reader, exclude []string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		clean := path.Clean("/" + h.Name)
		if clean != "/"+strings.TrimPrefix(path.Clean(h.Name), "/") || strings.Contains(h.Name, "..") {
			return fmt.Errorf("download: entry %q leaves the folder", h.Name)
		}
		rel := strings.TrimPrefix(clean, "/")
		if excluded(rel, exclude) {
			continue
		}
		p := filepath.Join(dst, filepath.FromSlash(rel))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, os.FileMode(h.Mode).Perm()|0o700); err != nil {
				return err
			}
		case tar.TypeReg: // tar.Reader reads the old TypeRegA as TypeReg (or TypeDir)
			os.MkdirAll(filepath.Dir(p), 0o755)
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm())
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			f.Close()
		case tar.TypeSymlink:
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.Remove(p)
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
		}
	}
}
