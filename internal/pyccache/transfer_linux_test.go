package pyccache

import (
	"bytes"
	"errors"
	"fmt"
	"syscall"
	"testing"
)

// TestImportFullDisk: a host cache on a full disk fails the import with
// the cause; every entry that is there reads back whole or not at all.
func TestImportFullDisk(t *testing.T) {
	dir := smallTmpfs(t, "size=64k")
	src, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	in := interp(t, py311)
	var keys []Key
	want := map[ID]Interp{}
	for i := range 40 {
		k := key(in, fmt.Sprint(i), fmt.Sprintf("m%d.py", i))
		keys = append(keys, k)
		want[k.ID()] = in
		if err := src.Put(k, fakePyc(in, string(bytes.Repeat([]byte{'x'}, 4000)))); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := src.WritePack(&buf, keys); err != nil {
		t.Fatal(err)
	}
	host, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := host.ImportPack(bytes.NewReader(buf.Bytes()), want)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("import into a full cache: %+v %v", st, err)
	}
	var got int
	for _, k := range keys {
		if _, _, ok := host.Get(k); ok {
			got++
		}
	}
	if got != st.Stored || host.Damaged() != 0 {
		t.Fatalf("%d entries read back, %d stored, %d damaged", got, st.Stored, host.Damaged())
	}
}
