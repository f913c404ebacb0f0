package batch

import (
	"archive/zip"
	"bufio"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// A workbook is a zip archive of XML parts. What a hostile one can make the
// reader do is bounded before and while it is read:
//
//   - the zip directory is at most xlsxMaxDirectory bytes and
//     xlsxMaxEntries entries, and ends where the end record begins, so that
//     archive/zip (which reads directory records until one is bad) holds a
//     bounded list;
//   - every entry declares its size, and the declared sizes, one by one and
//     in total, stay under xlsxInflateFactor times the file size limit, with
//     no large entry compressed more than xlsxMaxRatio to one (a zip bomb);
//     archive/zip refuses an entry that inflates beyond its declared size;
//   - the XML is read as a stream of tokens, no token (a cell, a tag) over
//     xlsxMaxToken bytes and no element nested deeper than xlsxMaxDepth.
//     encoding/xml expands no entity it does not know, so a "billion
//     laughs" document is a syntax error at its first reference.
const (
	xlsxInflateFactor = 8
	xlsxMaxDirectory  = 1 << 20
	xlsxMaxEntries    = 10_000
	xlsxMaxRatio      = 100
	xlsxRatioFloor    = 1 << 20 // smaller entries may compress better: they are small
	// Excel's cells stop at 32,767 characters; escaped as XML, that is
	// well under this.
	xlsxMaxToken = 1 << 20
	xlsxMaxDepth = 32
)

// defaultMaxBytes stands for the file size limit when ReadOptions set none
// (the configuration's default, input.max_bytes).
const defaultMaxBytes = 512 << 20

// workbook is an open XLSX archive and the bound on what may still be
// inflated from it.
type workbook struct {
	f     *os.File
	name  string // for messages
	zr    *zip.Reader
	parts map[string]*zip.File // by lower-case path, '/'-separated
	left  int64                // bytes that may still be inflated
	limit int64                // the bound of one entry
}

func xlsxErr(name, format string, a ...any) error {
	return fmt.Errorf("%w: %s cannot be read as a workbook: %s", ErrFormat, name, fmt.Sprintf(format, a...))
}

// openWorkbook opens an XLSX file and checks its zip structure and
// declared sizes against the bounds above.
func openWorkbook(path, name string, o ReadOptions) (*workbook, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	limit := o.MaxBytes
	if limit <= 0 {
		limit = defaultMaxBytes
	}
	limit *= xlsxInflateFactor
	wb := &workbook{f: f, name: name, left: limit, limit: limit}
	if err := checkDirectory(f, st.Size()); err != nil {
		f.Close()
		return nil, xlsxErr(name, "%v", err)
	}
	wb.zr, err = zip.NewReader(f, st.Size())
	if err != nil {
		f.Close()
		return nil, xlsxErr(name, "%v", err)
	}
	wb.parts = make(map[string]*zip.File, len(wb.zr.File))
	var total uint64
	for _, zf := range wb.zr.File {
		size := zf.UncompressedSize64
		total += size
		switch {
		case size > uint64(limit) || total > uint64(limit):
			f.Close()
			return nil, fmt.Errorf("%w: %s inflates to more than %d MiB (%d times input.max_bytes): refused as a zip bomb",
				ErrInput, name, limit>>20, xlsxInflateFactor)
		case size > xlsxRatioFloor && size/xlsxMaxRatio > zf.CompressedSize64:
			f.Close()
			return nil, fmt.Errorf("%w: %s: part %s is compressed %d to 1, more than a spreadsheet ever is (%d): refused as a zip bomb",
				ErrInput, name, zf.Name, size/max(zf.CompressedSize64, 1), xlsxMaxRatio)
		}
		wb.parts[strings.ToLower(strings.TrimPrefix(strings.ReplaceAll(zf.Name, `\`, "/"), "/"))] = zf
	}
	return wb, nil
}

func (wb *workbook) close() error { return wb.f.Close() }

// checkDirectory reads the end of a zip archive and refuses a directory
// larger than xlsxMaxDirectory or xlsxMaxEntries, or one that does not end
// where the end record begins.
func checkDirectory(f io.ReaderAt, size int64) error {
	const eocdLen, zip64LocLen, zip64EndLen = 22, 20, 56
	n := min(size, eocdLen+0xffff)
	tail := make([]byte, n)
	if _, err := f.ReadAt(tail, size-n); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	at := -1
	for i := len(tail) - eocdLen; i >= 0; i-- {
		if string(tail[i:i+4]) == "PK\x05\x06" && i+eocdLen+int(binary.LittleEndian.Uint16(tail[i+20:])) <= len(tail) {
			at = i
			break
		}
	}
	if at < 0 {
		return errors.New("no zip end record")
	}
	eocd := tail[at:]
	entries := uint64(binary.LittleEndian.Uint16(eocd[10:]))
	dirSize := uint64(binary.LittleEndian.Uint32(eocd[12:]))
	dirOff := uint64(binary.LittleEndian.Uint32(eocd[16:]))
	end := uint64(size - n + int64(at))
	if entries == 0xffff || dirSize == 0xffffffff || dirOff == 0xffffffff {
		// Zip64: the sizes are in the zip64 end record, which the
		// locator just before the end record points to.
		if end < zip64LocLen {
			return errors.New("no zip64 locator")
		}
		var loc [zip64LocLen]byte
		if _, err := f.ReadAt(loc[:], int64(end-zip64LocLen)); err != nil {
			return err
		}
		if string(loc[:4]) != "PK\x06\x07" {
			return errors.New("no zip64 locator")
		}
		recOff := binary.LittleEndian.Uint64(loc[8:])
		var rec [zip64EndLen]byte
		if recOff > uint64(size)-zip64EndLen {
			return errors.New("bad zip64 end record")
		}
		if _, err := f.ReadAt(rec[:], int64(recOff)); err != nil {
			return err
		}
		if string(rec[:4]) != "PK\x06\x06" {
			return errors.New("bad zip64 end record")
		}
		entries = binary.LittleEndian.Uint64(rec[32:])
		dirSize = binary.LittleEndian.Uint64(rec[40:])
		dirOff = binary.LittleEndian.Uint64(rec[48:])
		end = recOff
	}
	switch {
	case dirSize > xlsxMaxDirectory || entries > xlsxMaxEntries:
		return fmt.Errorf("its zip directory holds %d entries in %d bytes, more than a workbook has (%d, %d)",
			entries, dirSize, xlsxMaxEntries, xlsxMaxDirectory)
	case dirOff > end || dirOff+dirSize != end:
		return errors.New("its zip directory does not end where the archive's end record begins")
	}
	return nil
}

// open returns a stream of the XML of a part, with the archive's bounds.
func (wb *workbook) open(part string) (*xmlStream, error) {
	zf, ok := wb.parts[strings.ToLower(part)]
	if !ok {
		return nil, xlsxErr(wb.name, "part %s is missing", part)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, xlsxErr(wb.name, "part %s: %v", part, err)
	}
	in := &inflateBound{r: rc, wb: wb, part: part}
	tc := &tokenCap{br: bufio.NewReaderSize(in, 32<<10)}
	dec := xml.NewDecoder(tc)
	return &xmlStream{dec: dec, tc: tc, rc: rc, wb: wb, part: part}, nil
}

// has reports whether the archive holds a part.
func (wb *workbook) has(part string) bool {
	_, ok := wb.parts[strings.ToLower(part)]
	return ok
}

// inflateBound fails a read once the workbook has inflated more than its
// bound in total (each entry is held to its declared size by archive/zip,
// and the declared sizes to the bound by openWorkbook: this is the net).
type inflateBound struct {
	r    io.Reader
	wb   *workbook
	part string
}

func (b *inflateBound) Read(p []byte) (int, error) {
	if b.wb.left <= 0 {
		return 0, fmt.Errorf("%w: %s inflates to more than %d MiB: refused as a zip bomb", ErrInput, b.wb.name, b.wb.limit>>20)
	}
	if int64(len(p)) > b.wb.left {
		p = p[:b.wb.left]
	}
	n, err := b.r.Read(p)
	b.wb.left -= int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		err = xlsxErr(b.wb.name, "part %s: %v", b.part, err)
	}
	return n, err
}

// errTokenTooLarge refuses a cell, a tag or any other XML token longer
// than xlsxMaxToken.
var errTokenTooLarge = fmt.Errorf("%w: a cell or tag longer than %d KiB, more than Excel writes", ErrInput, xlsxMaxToken>>10)

// tokenCap hands encoding/xml its bytes one at a time (it reads through
// io.ByteReader when it can) and counts those of the current token, so
// that no token can grow without bound: encoding/xml has no limit of its
// own.
type tokenCap struct {
	br *bufio.Reader
	n  int
}

func (t *tokenCap) ReadByte() (byte, error) {
	if t.n++; t.n > xlsxMaxToken {
		return 0, errTokenTooLarge
	}
	return t.br.ReadByte()
}

func (t *tokenCap) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b, err := t.ReadByte()
	if err != nil {
		return 0, err
	}
	p[0] = b
	return 1, nil
}

// xmlStream is one part's XML, token by token, within the bounds.
type xmlStream struct {
	dec   *xml.Decoder
	tc    *tokenCap
	rc    io.ReadCloser
	wb    *workbook
	part  string
	depth int
}

// next returns the next token; CharData is only valid until the next call.
func (x *xmlStream) next() (xml.Token, error) {
	x.tc.n = 0
	tok, err := x.dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		if errors.Is(err, ErrInput) {
			return nil, err
		}
		return nil, xlsxErr(x.wb.name, "part %s: %v", x.part, err)
	}
	switch tok.(type) {
	case xml.StartElement:
		if x.depth++; x.depth > xlsxMaxDepth {
			return nil, xlsxErr(x.wb.name, "part %s nests elements deeper than %d", x.part, xlsxMaxDepth)
		}
	case xml.EndElement:
		x.depth--
	}
	return tok, nil
}

// text reads the character data of the element just opened, to its end,
// at most xlsxMaxToken bytes in all. Nested elements' text is included.
func (x *xmlStream) text() (string, error) {
	var b strings.Builder
	depth := 1
	for depth > 0 {
		tok, err := x.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "", xlsxErr(x.wb.name, "part %s ends inside an element", x.part)
			}
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if b.Len()+len(t) > xlsxMaxToken {
				return "", errTokenTooLarge
			}
			b.Write(t)
		}
	}
	return b.String(), nil
}

// skip reads past the end of the element just opened.
func (x *xmlStream) skip() error {
	depth := 1
	for depth > 0 {
		tok, err := x.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return xlsxErr(x.wb.name, "part %s ends inside an element", x.part)
			}
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		}
	}
	return nil
}

func (x *xmlStream) close() error { return x.rc.Close() }

// attr returns an attribute's value by its local name.
func attr(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// relation is one entry of a part's relationships.
type relation struct{ typ, target string }

// relations reads the relationships of a part (its _rels/NAME.rels), with
// targets resolved to archive paths. A missing file is no relationship.
func (wb *workbook) relations(part string) (map[string]relation, error) {
	dir, file := path.Split(part)
	relsPart := dir + "_rels/" + file + ".rels"
	out := map[string]relation{}
	if !wb.has(relsPart) {
		return out, nil
	}
	x, err := wb.open(relsPart)
	if err != nil {
		return nil, err
	}
	defer x.close()
	for {
		tok, err := x.next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "Relationship" || strings.EqualFold(attr(se, "TargetMode"), "External") {
			continue
		}
		if len(out) >= xlsxMaxEntries {
			return nil, xlsxErr(wb.name, "part %s lists more than %d relationships", relsPart, xlsxMaxEntries)
		}
		target := strings.ReplaceAll(attr(se, "Target"), `\`, "/")
		if strings.HasPrefix(target, "/") {
			target = path.Clean(target[1:])
		} else {
			target = path.Clean(dir + target)
		}
		out[attr(se, "Id")] = relation{typ: attr(se, "Type"), target: target}
	}
}
