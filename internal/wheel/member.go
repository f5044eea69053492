package wheel

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// openMember opens member f for reading. A mapped wheel's member is read
// straight from the mapping: a stored member is a slice of it, a deflated
// one is inflated from a bytes.Reader (which the decoder reads directly,
// where archive/zip would hand it a section reader behind a fresh 4 KiB
// bufio.Reader per member). The checks are archive/zip's: the size, that
// the compressed data ends where the content does, and the CRC-32 (from
// the data descriptor when the central directory has none). Unmapped
// wheels and other methods go through archive/zip.
func (w *Wheel) openMember(f *zip.File) (io.ReadCloser, error) {
	if w.mapped == nil || (f.Method != zip.Store && f.Method != zip.Deflate) {
		return f.Open()
	}
	off, err := f.DataOffset()
	if err != nil {
		return nil, err
	}
	end := off + int64(f.CompressedSize64)
	if off < 0 || end < off || end > int64(len(w.mapped)) {
		return nil, zip.ErrFormat
	}
	body := bytes.NewReader(w.mapped[off:end])
	m := &memberReader{size: f.UncompressedSize64, crc: f.CRC32, check: f.CRC32 != 0}
	if f.Flags&0x8 != 0 { // a data descriptor follows the data
		m.check = true
		if m.crc == 0 {
			if m.crc, err = descriptorCRC(w.mapped[end:]); err != nil {
				return nil, err
			}
		}
	}
	if f.Method == zip.Store {
		if f.CompressedSize64 != f.UncompressedSize64 {
			return nil, zip.ErrFormat
		}
		m.src = io.NopCloser(body)
	} else {
		m.src = newInflater(body)
	}
	return m, nil
}

// descriptorCRC reads the CRC-32 of the data descriptor at the start of b
// (its signature is optional).
func descriptorCRC(b []byte) (uint32, error) {
	if len(b) >= 4 && binary.LittleEndian.Uint32(b) == 0x08074b50 {
		b = b[4:]
	}
	if len(b) < 4 {
		return 0, zip.ErrFormat
	}
	return binary.LittleEndian.Uint32(b), nil
}

// memberReader reads one member's content and checks it as archive/zip's
// reader does; its first error is returned by every later Read.
type memberReader struct {
	src   io.ReadCloser
	size  uint64 // from the central directory
	crc   uint32
	check bool // whether crc is to be checked
	read  uint64
	sum   uint32
	err   error
}

func (m *memberReader) Read(p []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	n, err := m.src.Read(p)
	m.sum = crc32.Update(m.sum, crc32.IEEETable, p[:n])
	m.read += uint64(n)
	if m.read > m.size {
		m.err = zip.ErrFormat
		return 0, m.err
	}
	if err == nil && m.read == m.size {
		// Decoders often report the end only on the next call, and the
		// compressed data must end here too: read on now, so the caller's
		// last read ends the member.
		var extra [1]byte
		k, rerr := m.src.Read(extra[:])
		for k == 0 && rerr == nil {
			k, rerr = m.src.Read(extra[:])
		}
		switch {
		case k > 0:
			err = zip.ErrFormat // more content than the directory says
		case rerr == io.EOF:
			err = io.EOF
		default:
			err = rerr
		}
	}
	if err == nil {
		return n, nil
	}
	switch {
	case err != io.EOF:
	case m.read != m.size:
		err = io.ErrUnexpectedEOF
	case m.check && m.sum != m.crc:
		err = zip.ErrChecksum
	}
	m.err = err
	return n, err
}

func (m *memberReader) Close() error { return m.src.Close() }

// maxLocalExtra is how far back from a member's data checkLocal looks for
// its local header's extra field when the field's length differs from the
// central directory's (zip tools add a few dozen bytes at most).
const maxLocalExtra = 1024

// checkLocal compares member f's local file header with its central
// directory entry: the same name, method and data descriptor flag and,
// unless a data descriptor follows the data, the same CRC-32 and sizes.
// archive/zip reads only the lengths of the local header's name and extra
// field; other unzip tools trust the rest, so a wheel whose two headers
// disagree is one whose content depends on who reads it.
func (w *Wheel) checkLocal(f *zip.File) error {
	off, err := f.DataOffset()
	if err != nil {
		return err
	}
	n := int64(len(f.Name))
	back := min(off, 30+n+max(maxLocalExtra, int64(len(f.Extra))))
	if off > w.size || back < 30+n {
		return errors.New("its local header lies outside the archive")
	}
	var window []byte
	if w.mapped != nil {
		window = w.mapped[off-back : off]
	} else {
		window = make([]byte, back)
		if _, err := w.src.ReadAt(window, off-back); err != nil {
			return fmt.Errorf("read its local header: %w", err)
		}
	}
	h := findLocal(window, f.Name, len(f.Extra))
	if h == nil {
		return errors.New("no local header names it where its data starts (the local and central names differ?)")
	}
	flags := binary.LittleEndian.Uint16(h[6:])
	method := binary.LittleEndian.Uint16(h[8:])
	if method != f.Method {
		return fmt.Errorf("the local header says compression method %d, the central directory %d", method, f.Method)
	}
	if flags&0x8 != f.Flags&0x8 {
		return errors.New("the local header and the central directory disagree on whether a data descriptor follows")
	}
	if flags&0x8 != 0 {
		return nil // the local CRC and sizes are zero; the descriptor's CRC is checked on reading
	}
	crc := binary.LittleEndian.Uint32(h[14:])
	csize := binary.LittleEndian.Uint32(h[18:])
	usize := binary.LittleEndian.Uint32(h[22:])
	if crc != f.CRC32 {
		return fmt.Errorf("the local header says CRC-32 %08x, the central directory %08x", crc, f.CRC32)
	}
	// 0xffffffff: the size is in a zip64 extra field
	if csize != 0xffffffff && uint64(csize) != f.CompressedSize64 {
		return fmt.Errorf("the local header says %d compressed bytes, the central directory %d", csize, f.CompressedSize64)
	}
	if usize != 0xffffffff && uint64(usize) != f.UncompressedSize64 {
		return fmt.Errorf("the local header says %d bytes, the central directory %d", usize, f.UncompressedSize64)
	}
	return nil
}

// findLocal returns the 30 fixed bytes of the local header of the member
// called name whose data starts at the end of window: a header signature
// followed by that name and an extra field reaching the end. It tries the
// central directory's extra length first, then every length from 0.
func findLocal(window []byte, name string, centralExtra int) []byte {
	try := func(e int) []byte {
		start := len(window) - 30 - len(name) - e
		if start < 0 {
			return nil
		}
		h := window[start:]
		if binary.LittleEndian.Uint32(h) != 0x04034b50 || int(binary.LittleEndian.Uint16(h[26:])) != len(name) ||
			int(binary.LittleEndian.Uint16(h[28:])) != e || string(h[30:30+len(name)]) != name {
			return nil
		}
		return h[:30]
	}
	if h := try(centralExtra); h != nil {
		return h
	}
	for e := 0; e <= maxLocalExtra; e++ {
		if h := try(e); h != nil {
			return h
		}
	}
	return nil
}
