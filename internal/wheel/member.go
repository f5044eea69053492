package wheel

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
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
