package wheelpack

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// RecordRow is one line of a RECORD file.
type RecordRow struct {
	Path string
	Hash string // "sha256=<urlsafe b64, no padding>", or "" for RECORD itself
	Size int64  // -1 when the row has no size
}

func b64(sum []byte) string { return base64.RawURLEncoding.EncodeToString(sum) }

// RecordHash returns the RECORD hash field for data: "sha256=" and the
// urlsafe base64 digest without padding.
func RecordHash(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256=" + b64(sum[:])
}

// writeRecordRow appends one CSV row; size < 0 leaves hash and size empty.
func writeRecordRow(buf *bytes.Buffer, name, digest string, size int64) {
	cw := csv.NewWriter(buf)
	sz := ""
	if size >= 0 {
		sz = strconv.FormatInt(size, 10)
	}
	_ = cw.Write([]string{name, digest, sz}) // writes to a bytes.Buffer cannot fail
	cw.Flush()
}

// ParseRecord parses the CSV content of a RECORD file.
func ParseRecord(data []byte) ([]RecordRow, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	var rows []RecordRow
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parse RECORD: %w", err)
		}
		if len(rec) == 0 || (len(rec) == 1 && rec[0] == "") {
			continue
		}
		if len(rec) != 3 {
			return nil, fmt.Errorf("parse RECORD: row %q has %d fields, want 3", strings.Join(rec, ","), len(rec))
		}
		row := RecordRow{Path: rec[0], Hash: rec[1], Size: -1}
		if rec[2] != "" {
			n, err := strconv.ParseInt(rec[2], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("parse RECORD: row %q: size: %w", rec[0], err)
			}
			row.Size = n
		}
		rows = append(rows, row)
	}
}

// Verify checks that the wheel at path is internally consistent: it has
// exactly one .dist-info directory with a parseable WHEEL file and a RECORD
// that lists every other entry exactly once with its sha256 and size, and
// lists itself without either.
func Verify(path string) error {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return fmt.Errorf("verify %s: %w", path, err)
	}
	defer zr.Close()
	if err := verify(&zr.Reader); err != nil {
		return fmt.Errorf("verify %s: %w", path, err)
	}
	return nil
}

func verify(zr *zip.Reader) error {
	files := map[string]*zip.File{}
	distInfos := map[string]bool{}
	for _, f := range zr.File {
		if _, dup := files[f.Name]; dup {
			return fmt.Errorf("duplicate entry %s", f.Name)
		}
		files[f.Name] = f
		if top, _, ok := strings.Cut(f.Name, "/"); ok && strings.HasSuffix(top, ".dist-info") {
			distInfos[top] = true
		}
	}
	if len(distInfos) != 1 {
		return fmt.Errorf("want exactly one .dist-info directory, found %d", len(distInfos))
	}
	var distInfo string
	for d := range distInfos {
		distInfo = d
	}
	wheel, err := readZipFile(files[distInfo+"/WHEEL"])
	if err != nil {
		return fmt.Errorf("read WHEEL: %w", err)
	}
	if _, err := ParseWHEEL(wheel); err != nil {
		return err
	}
	recordName := distInfo + "/RECORD"
	record, err := readZipFile(files[recordName])
	if err != nil {
		return fmt.Errorf("read RECORD: %w", err)
	}
	rows, err := ParseRecord(record)
	if err != nil {
		return err
	}
	listed := map[string]bool{}
	for _, row := range rows {
		if listed[row.Path] {
			return fmt.Errorf("RECORD lists %s twice", row.Path)
		}
		listed[row.Path] = true
		f, ok := files[row.Path]
		if !ok {
			return fmt.Errorf("RECORD lists %s, which is not in the archive", row.Path)
		}
		if row.Path == recordName {
			if row.Hash != "" || row.Size != -1 {
				return errors.New("RECORD lists itself with a hash or size")
			}
			continue
		}
		data, err := readZipFile(f)
		if err != nil {
			return fmt.Errorf("read %s: %w", row.Path, err)
		}
		if want := RecordHash(data); row.Hash != want {
			return fmt.Errorf("%s: RECORD hash %q, content hashes to %q", row.Path, row.Hash, want)
		}
		if row.Size != int64(len(data)) {
			return fmt.Errorf("%s: RECORD size %d, content is %d bytes", row.Path, row.Size, len(data))
		}
	}
	for name := range files {
		if !listed[name] && !strings.HasSuffix(name, "/") {
			return fmt.Errorf("%s is not listed in RECORD", name)
		}
	}
	return nil
}

func readZipFile(f *zip.File) ([]byte, error) {
	if f == nil {
		return nil, errors.New("missing")
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc) // zip's reader checks the CRC at EOF
}
