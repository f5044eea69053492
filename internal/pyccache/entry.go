package pyccache

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// An entry, loose or in a pack, is a header and the .pyc bytes:
//
//	0  8 bytes  entryMagic
//	8  32       the key's ID
//	40 32       sha256 of the .pyc bytes
//	72 ...      the .pyc bytes
const (
	entryMagic  = "pbpyc\x00\x01\n"
	headerSize  = 8 + 32 + 32
	pycHeader   = 16      // a .pyc's header since Python 3.7 (PEP 552)
	maxEntry    = 1 << 30 // larger is not a .pyc of any source a wheel holds
	flagHashed  = 1       // PEP 552 flags: hash-based ...
	flagChecked = 2       // ... and checked against the source
)

// encodeEntry renders the entry of id holding pyc.
func encodeEntry(id ID, pyc []byte) []byte {
	sum := sha256.Sum256(pyc)
	out := make([]byte, 0, headerSize+len(pyc))
	out = append(out, entryMagic...)
	out = append(out, id[:]...)
	out = append(out, sum[:]...)
	return append(out, pyc...)
}

// errDamaged is an entry that is not what its name says.
var errDamaged = errors.New("damaged bytecode cache entry")

// decodeEntry checks an entry read for id and returns its .pyc bytes and
// their sha256. It fails, without panicking, on any other input.
func decodeEntry(id ID, data []byte, in Interp) ([]byte, [32]byte, error) {
	pyc, sum, err := decodeWhole(id, data)
	if err != nil {
		return nil, sum, err
	}
	if err := checkPyc(pyc, in); err != nil {
		return nil, sum, err
	}
	return pyc, sum, nil
}

// decodeWhole checks that an entry read for id is whole: its header names
// id and its bytes match their sha256. What interpreter it is for is
// decodeEntry's check.
func decodeWhole(id ID, data []byte) ([]byte, [32]byte, error) {
	var sum [32]byte
	if len(data) < headerSize || string(data[:8]) != entryMagic {
		return nil, sum, fmt.Errorf("%w: no entry header", errDamaged)
	}
	if !bytes.Equal(data[8:40], id[:]) {
		return nil, sum, fmt.Errorf("%w: it holds entry %x", errDamaged, data[8:40])
	}
	pyc := data[headerSize:]
	sum = sha256.Sum256(pyc)
	if !bytes.Equal(sum[:], data[40:72]) {
		return nil, sum, fmt.Errorf("%w: its bytes do not match their sha256", errDamaged)
	}
	return pyc, sum, nil
}

// decodeSealed is decodeEntry for an entry whose bytes a checksum over
// its whole file has already shown intact (a wheel pack's seal): it
// checks the header and the .pyc's, and takes the stored sha256 as the
// bytes' instead of hashing them again.
func decodeSealed(id ID, data []byte, in Interp) ([]byte, [32]byte, error) {
	var sum [32]byte
	if len(data) < headerSize || string(data[:8]) != entryMagic {
		return nil, sum, fmt.Errorf("%w: no entry header", errDamaged)
	}
	if !bytes.Equal(data[8:40], id[:]) {
		return nil, sum, fmt.Errorf("%w: it holds entry %x", errDamaged, data[8:40])
	}
	pyc := data[headerSize:]
	if err := checkPyc(pyc, in); err != nil {
		return nil, sum, err
	}
	copy(sum[:], data[40:72])
	return pyc, sum, nil
}

// checkPyc checks a .pyc's header: the interpreter's magic number and the
// unchecked-hash flags. A .pyc of another Python, or a timestamp or
// checked-hash one, is refused whatever its entry says.
func checkPyc(pyc []byte, in Interp) error {
	if len(pyc) < pycHeader {
		return fmt.Errorf("%w: %d bytes is shorter than a .pyc header", errDamaged, len(pyc))
	}
	if in.magic == [4]byte{} || !bytes.Equal(pyc[:4], in.magic[:]) {
		return fmt.Errorf("%w: magic number %x, the interpreter's is %s", errDamaged, pyc[:4], in.Magic)
	}
	if flags := binary.LittleEndian.Uint32(pyc[4:8]); flags != flagHashed {
		return fmt.Errorf("%w: flags %#x, want unchecked-hash (%#x, not %#x)", errDamaged, flags, flagHashed, flagHashed|flagChecked)
	}
	return nil
}
