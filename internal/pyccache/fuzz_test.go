package pyccache

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// FuzzEntry: any bytes read as an entry either fail or are exactly the
// entry of the key asked for, holding an unchecked-hash .pyc of the
// interpreter: re-encoding them gives the input back.
func FuzzEntry(f *testing.F) {
	in := interp(f, py311)
	k := key(in, "x = 1\n", "m.py")
	good := encodeEntry(k.ID(), fakePyc(in, "code"))
	f.Add(good)
	f.Add(good[:headerSize])
	f.Add(encodeEntry(k.ID(), fakePyc(interp(f, py312), "code")))
	f.Add(encodeEntry(key(in, "y", "m.py").ID(), fakePyc(in, "code")))
	f.Add([]byte(entryMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		pyc, sum, err := decodeEntry(k.ID(), data, in)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeEntry(k.ID(), pyc), data) {
			t.Fatal("accepted an entry that does not re-encode to itself")
		}
		if !bytes.Equal(pyc[:4], in.magic[:]) || binary.LittleEndian.Uint32(pyc[4:8]) != flagHashed {
			t.Fatal("accepted a .pyc of another interpreter or mode")
		}
		if !bytes.Equal(sum[:], data[40:72]) {
			t.Fatal("sum is not the stored one")
		}
	})
}

// FuzzPack: any bytes opened as a pack either fail or give an index whose
// entries lie inside the file, before the index, sorted; every lookup
// then reads inside the file or reports the entry missing.
func FuzzPack(f *testing.F) {
	in := interp(f, py311)
	var buf bytes.Buffer
	dir := f.TempDir()
	c, _ := Open(dir)
	var keys []Key
	for i := 0; i < 3; i++ {
		k := key(in, string(rune('a'+i)), "m.py")
		keys = append(keys, k)
		c.Put(k, fakePyc(in, "code"))
	}
	if _, err := c.WritePack(&buf, keys); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[buf.Len()-trailerSize:])
	empty := bytes.Buffer{}
	c.WritePack(&empty, nil)
	f.Add(empty.Bytes())
	f.Add([]byte(packMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := readPackIndex(bytes.NewReader(data))
		if err != nil {
			return
		}
		for i, x := range p.index {
			if x.offset < 0 || x.size < 0 || x.offset+x.size > int64(len(data)) {
				t.Fatalf("entry %d outside the file", i)
			}
			if i > 0 && bytes.Compare(p.index[i-1].id[:], x.id[:]) >= 0 {
				t.Fatal("index not sorted")
			}
		}
		for _, k := range keys {
			i := 0
			for i < len(p.index) && p.index[i].id != k.ID() {
				i++
			}
			if i < len(p.index) {
				x := p.index[i]
				_, _, _ = decodeEntry(k.ID(), data[x.offset:x.offset+x.size], in)
			}
		}
	})
}

// FuzzWheelPack: any bytes found as a wheel pack (with no loose entries
// to fall back on) either give nothing or, for each key, exactly a .pyc
// of the interpreter with its stored sha256; never a panic or a fault.
func FuzzWheelPack(f *testing.F) {
	in := interp(f, py311)
	seedDir := f.TempDir()
	c, _ := Open(seedDir)
	var keys []Key
	for i := 0; i < 3; i++ {
		k := key(in, string(rune('a'+i)), "m.py")
		keys = append(keys, k)
		c.Put(k, fakePyc(in, "code"))
	}
	wheelSum := [32]byte{1}
	if _, err := c.PutWheel(wheelSum[:], in, keys); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(c.wheelPackPath(WheelPackID(wheelSum[:], in)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(good[len(good)-wheelSealSize:])
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		c, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		p := c.wheelPackPath(WheelPackID(wheelSum[:], in))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		w := c.OpenWheel(wheelSum[:], in)
		defer w.Close()
		for _, k := range keys {
			pyc, sum, ok := w.Get(k)
			if !ok {
				continue
			}
			if !w.Packed() || !bytes.Equal(pyc[:4], in.magic[:]) || binary.LittleEndian.Uint32(pyc[4:8]) != flagHashed {
				t.Fatal("got a .pyc of another interpreter or mode, or from nowhere")
			}
			if !bytes.Contains(data, append(sum[:], pyc...)) {
				t.Fatal("the .pyc and its sum are not stored together in the pack")
			}
		}
	})
}
