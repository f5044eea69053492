package wheel

import (
	"archive/zip"
	"bytes"
	"hash/crc32"
	"io"
)

// openMember opens member f for reading. A mapped wheel's member is read
// straight from the mapping: a stored member is a slice of it, a deflated
// one is inflated from a bytes.Reader (which the decoder reads directly,
// where archive/zip would hand it a section reader behind a fresh 4 KiB
// bufio.Reader per member). The size and CRC-32 are checked at the end,
// as archive/zip checks them. Unmapped wheels and other methods go through
// archive/zip.
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
	m := &memberReader{size: f.UncompressedSize64, crc: f.CRC32}
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

// memberReader reads one member's content and checks its size and CRC-32.
type memberReader struct {
	src   io.ReadCloser
	size  uint64 // from the central directory
	crc   uint32 // from the central directory; 0: not recorded
	read  uint64
	sum   uint32
	ended bool
}

func (m *memberReader) Read(p []byte) (int, error) {
	if m.ended {
		return 0, io.EOF
	}
	n, err := m.src.Read(p)
	m.sum = crc32.Update(m.sum, crc32.IEEETable, p[:n])
	m.read += uint64(n)
	if m.read > m.size {
		return 0, zip.ErrFormat
	}
	if err == nil && m.read == m.size && n > 0 {
		// Most decoders report EOF only on the next call: check now so the
		// caller's last read ends the member.
		err = io.EOF
	}
	if err != io.EOF {
		return n, err
	}
	m.ended = true
	if m.read != m.size {
		return n, io.ErrUnexpectedEOF
	}
	if m.crc != 0 && m.sum != m.crc {
		return n, zip.ErrChecksum
	}
	return n, io.EOF
}

func (m *memberReader) Close() error { return m.src.Close() }
