package wheel

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// BytecodePath is where an interpreter with cacheTag ("cpython-311")
// looks for the job's compiled module: __pycache__/<module>.<tag>.pyc
// beside the source (importlib.util.cache_from_source, optimization 0).
func (j *Job) BytecodePath(cacheTag string) string {
	dir, name := filepath.Split(j.Dest)
	stem := name // as CPython: up to the last dot
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		stem = name[:i]
	}
	return filepath.Join(dir, "__pycache__", stem+"."+cacheTag+".pyc")
}

// bytecodeMode is the mode CPython's compiler (py_compile, compileall)
// gives a .pyc: the source's, owner-writable, without execute bits
// (before the umask, which the kernel applies again).
func (j *Job) bytecodeMode() os.FileMode {
	src := 0o666 &^ umask()
	if zipExecutable(j.f) {
		src = execMode()
	}
	return (src | 0o200) & 0o666
}

// WriteBytecode writes pyc, whose sha256 is sum, as the job's compiled
// module (BytecodePath) with the mode the interpreter's compiler would
// give it, replacing any file there, and lists it in the wheel's RECORD.
// Call it once Extract has succeeded.
func (j *Job) WriteBytecode(cacheTag string, pyc, sum []byte) error {
	in := j.in
	dest := j.BytecodePath(cacheTag)
	f, err := in.opts.Dirs.create(dest, j.bytecodeMode())
	if errors.Is(err, fs.ErrExist) { // the compiler truncates what is there
		if err = os.Remove(dest); err == nil {
			f, err = in.opts.Dirs.create(dest, j.bytecodeMode())
		}
	}
	if err != nil {
		return &Error{File: in.W.Name.File, Member: j.f.Name, Msg: "write bytecode " + dest, Err: err}
	}
	_, err = f.Write(pyc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return &Error{File: in.W.Name.File, Member: j.f.Name, Msg: "write bytecode " + dest, Err: err}
	}
	in.AddFile(File{Path: dest, SHA256: append([]byte(nil), sum...), Size: int64(len(pyc))})
	return nil
}
