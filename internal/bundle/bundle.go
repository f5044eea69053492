// Package bundle builds the one tar stream the Packer provisioner uploads to
// the machine being baked: the agent, the plan, the locks and the wheels.
// Its size is known before a byte is read, so it can stream through any
// communicator's Upload (SSH's scp needs the size up front) with no
// temporary copy on either side.
package bundle

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Entry is one file of the bundle.
type Entry struct {
	// Name is the path inside the bundle ("wheels/x.whl").
	Name string
	// Path is a local file to read; Data is used when Path is empty.
	Path string
	Data []byte
	Mode int64
	size int64
}

// Bundle is an ordered list of entries.
type Bundle struct {
	entries []Entry
	// ModTime stamps every entry (reproducible output); zero means the
	// Unix epoch.
	ModTime time.Time
}

// AddFile adds a local file.
func (b *Bundle) AddFile(name, path string, mode int64) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("bundle %s: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("bundle %s: %s is not a regular file", name, path)
	}
	b.entries = append(b.entries, Entry{Name: name, Path: path, Mode: mode, size: st.Size()})
	return nil
}

// AddBytes adds content held in memory.
func (b *Bundle) AddBytes(name string, data []byte, mode int64) {
	b.entries = append(b.entries, Entry{Name: name, Data: data, Mode: mode, size: int64(len(data))})
}

// Entries returns the names in order.
func (b *Bundle) Entries() []string {
	out := make([]string, len(b.entries))
	for i, e := range b.entries {
		out[i] = e.Name
	}
	return out
}

func (b *Bundle) header(e Entry) *tar.Header {
	mt := b.ModTime
	if mt.IsZero() {
		mt = time.Unix(0, 0)
	}
	return &tar.Header{Typeflag: tar.TypeReg, Name: e.Name, Size: e.size, Mode: e.Mode, ModTime: mt.UTC(), Format: tar.FormatPAX}
}

// Size is the exact length of the stream WriteTo writes.
func (b *Bundle) Size() (int64, error) {
	cw := &countWriter{}
	tw := tar.NewWriter(cw)
	for _, e := range b.entries {
		if err := tw.WriteHeader(b.header(e)); err != nil {
			return 0, err
		}
		if _, err := io.CopyN(tw, zeros{}, e.size); err != nil {
			return 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	return cw.n, nil
}

// WriteTo writes the tar stream.
func (b *Bundle) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	tw := tar.NewWriter(cw)
	for _, e := range b.entries {
		if err := tw.WriteHeader(b.header(e)); err != nil {
			return cw.n, err
		}
		if e.Path == "" {
			if _, err := tw.Write(e.Data); err != nil {
				return cw.n, err
			}
			continue
		}
		f, err := os.Open(e.Path)
		if err != nil {
			return cw.n, fmt.Errorf("bundle %s: %w", e.Name, err)
		}
		n, err := io.Copy(tw, f)
		f.Close()
		if err == nil && n != e.size {
			err = fmt.Errorf("bundle %s: %s changed size while uploading (%d, was %d)", e.Name, e.Path, n, e.size)
		}
		if err != nil {
			if errors.Is(err, tar.ErrWriteTooLong) {
				err = fmt.Errorf("bundle %s: %s grew while uploading", e.Name, e.Path)
			}
			return cw.n, err
		}
	}
	return cw.n, tw.Close()
}

// Reader streams the bundle through a pipe; the returned size is exact.
// Close the reader to stop the writer early.
func (b *Bundle) Reader() (io.ReadCloser, int64, error) {
	size, err := b.Size()
	if err != nil {
		return nil, 0, err
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := b.WriteTo(pw)
		pw.CloseWithError(err)
	}()
	return pr, size, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.w == nil {
		c.n += int64(len(p))
		return len(p), nil
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// FileInfo describes the bundle for communicators that want one.
type FileInfo struct {
	name string
	size int64
}

// NewFileInfo returns an os.FileInfo of a regular 0600 file.
func NewFileInfo(name string, size int64) os.FileInfo { return FileInfo{name, size} }

func (f FileInfo) Name() string       { return f.name }
func (f FileInfo) Size() int64        { return f.size }
func (f FileInfo) Mode() os.FileMode  { return 0o600 }
func (f FileInfo) ModTime() time.Time { return time.Unix(0, 0) }
func (f FileInfo) IsDir() bool        { return false }
func (f FileInfo) Sys() any           { return nil }
