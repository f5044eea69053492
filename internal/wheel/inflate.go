package wheel

import (
	"errors"
	"io"
	"sync"

	kflate "github.com/klauspost/compress/flate"
)

// Deflated members are inflated with klauspost/compress's decoder, which
// takes about half the CPU of compress/flate's: inflating is most of
// pipbake's own work in an install. Decoders are pooled across members and
// wheels.
var inflaters sync.Pool

func newInflater(r io.Reader) io.ReadCloser {
	if fr, ok := inflaters.Get().(io.ReadCloser); ok {
		if err := fr.(kflate.Resetter).Reset(r, nil); err == nil {
			return &inflater{fr: fr}
		}
	}
	return &inflater{fr: kflate.NewReader(r)}
}

// inflater returns its decoder to the pool on Close.
type inflater struct{ fr io.ReadCloser }

func (z *inflater) Read(p []byte) (int, error) {
	if z.fr == nil {
		return 0, errors.New("read of a closed member")
	}
	return z.fr.Read(p)
}

func (z *inflater) Close() error {
	if z.fr == nil {
		return nil
	}
	err := z.fr.Close()
	inflaters.Put(z.fr)
	z.fr = nil
	return err
}
