package batch

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/pan"
)

// A cell stores a number, and its style's number format says what Excel
// shows: 46000 formatted as a date is 2025-12-09, 0.5 formatted as a time
// is 12:00:00, 0.15 formatted as a percentage is 15%. Such a cell in the
// amount column is not an amount, whatever its number: the row is refused.
// So are a boolean (TRUE is stored as 1) and an error (#N/A).
//
// The styles part is read once, as a stream like the rest, keeping one
// small value per cell format (xlsxMaxStyles of them at most), never a
// format's code.
const (
	// Excel keeps at most 64,000 cell formats and about 250 custom
	// number formats in a workbook.
	xlsxMaxStyles = 1 << 16
	// Excel's number format codes stop at 255 characters.
	xlsxMaxFormatCode = 1 << 10
)

// valueKind is what Excel shows a cell's value as, when it is not a plain
// number or text.
type valueKind uint8

const (
	kindPlain    valueKind = iota // a number (general, currency...) or text
	kindDate                      // a date, with or without a time of day
	kindTime                      // a time of day
	kindDuration                  // an elapsed time ([h]:mm:ss)
	kindPercent                   // a percentage
	kindBoolean                   // TRUE or FALSE (t="b")
	kindError                     // #N/A, #DIV/0!... (t="e")
)

// cellStyles maps a cell's style index (its s attribute, an index into
// the workbook's cellXfs) to what its number format shows.
type cellStyles struct{ kinds []valueKind }

// kind returns what a number with the style s (the attribute's text)
// shows as. A missing or unknown style is Excel's general format.
func (s *cellStyles) kind(attr string) valueKind {
	if attr == "" {
		return kindPlain
	}
	i, err := strconv.Atoi(attr)
	if err != nil || i < 0 || i >= len(s.kinds) {
		return kindPlain
	}
	return s.kinds[i]
}

// readStyles reads the cell formats (cellXfs) and custom number formats
// (numFmts) of the styles part, if the workbook has one. The differential
// formats of conditional formatting (dxfs) and the named styles
// (cellStyleXfs) are not a cell's own format: they are skipped.
func readStyles(wb *workbook, part string) (*cellStyles, error) {
	s := &cellStyles{}
	if part == "" || !wb.has(part) {
		return s, nil
	}
	x, err := wb.open(part)
	if err != nil {
		return nil, err
	}
	defer x.close()
	custom := map[int]valueKind{}
	var xfs []int // each cell format's numFmtId
	root, section := false, ""
	for {
		tok, err := x.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if t.Name.Local == section {
				section = ""
			}
		case xml.StartElement:
			name := t.Name.Local
			switch {
			case !root:
				root = true // styleSheet
				continue
			case section == "" && (name == "numFmts" || name == "cellXfs"):
				section = name
				continue
			case section == "numFmts" && name == "numFmt":
				if len(custom) >= xlsxMaxStyles {
					return nil, xlsxErr(wb.name, "part %s holds more than %d number formats", part, xlsxMaxStyles)
				}
				id, err := formatID(wb, part, attr(t, "numFmtId"))
				if err != nil {
					return nil, err
				}
				code := attr(t, "formatCode")
				if len(code) > xlsxMaxFormatCode {
					return nil, xlsxErr(wb.name, "part %s: a number format longer than %d bytes, more than Excel writes", part, xlsxMaxFormatCode)
				}
				custom[id] = formatKind(code)
			case section == "cellXfs" && name == "xf":
				if len(xfs) >= xlsxMaxStyles {
					return nil, xlsxErr(wb.name, "part %s holds more than %d cell formats", part, xlsxMaxStyles)
				}
				id, err := formatID(wb, part, attr(t, "numFmtId"))
				if err != nil {
					return nil, err
				}
				xfs = append(xfs, id)
			}
			// Fonts, fills, an xf's alignment...: nothing to read.
			if err := x.skip(); err != nil {
				return nil, err
			}
		}
	}
	s.kinds = make([]valueKind, len(xfs))
	for i, id := range xfs {
		k, ok := custom[id]
		if !ok {
			k = builtinFormatKind(id)
		}
		s.kinds[i] = k
	}
	return s, nil
}

func formatID(wb *workbook, part, v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	id, err := strconv.Atoi(v)
	if err != nil || id < 0 {
		return 0, xlsxErr(wb.name, "part %s: number format id %q", part, v)
	}
	return id, nil
}

// builtinFormatKind is what the built-in number format id shows, in any
// locale: 14-22 and 45-47 are dates and times, 9 and 10 percentages; 27-36
// and 50-58 are East Asian dates and times, 67-81 Thai ones.
func builtinFormatKind(id int) valueKind {
	switch {
	case id == 9, id == 10, id == 67, id == 68:
		return kindPercent
	case id == 46, id == 79:
		return kindDuration
	case id >= 18 && id <= 21, id == 45, id == 47, id >= 32 && id <= 35,
		id == 75, id == 76, id == 78, id == 80:
		return kindTime
	case id >= 14 && id <= 22, id >= 27 && id <= 36, id >= 50 && id <= 58, id >= 71 && id <= 81:
		return kindDate
	}
	return kindPlain
}

// formatKind is what a custom number format code shows. Outside quoted
// text, [...] sections (a colour, a condition, a locale or currency such
// as [$€-x-euro2]) and the characters that \, _ and * make literal, a y or
// d is a date, an h or s a time (an m with them is minutes, alone a
// month), an [h], [m] or [s] section an elapsed time, and a % a
// percentage. Currency and accounting formats ("S/" #,##0.00) have none.
func formatKind(code string) valueKind {
	var date, clock, month, elapsed, percent bool
	for i := 0; i < len(code); i++ {
		switch c := code[i]; c {
		case '"':
			j := strings.IndexByte(code[i+1:], '"')
			if j < 0 {
				return classify(date, clock, month, elapsed, percent)
			}
			i += j + 1
		case '\\', '_', '*':
			i++ // the next character is literal, a space as wide as it, or the fill
		case '[':
			j := strings.IndexByte(code[i+1:], ']')
			if j < 0 {
				return classify(date, clock, month, elapsed, percent)
			}
			if in := strings.ToLower(code[i+1 : i+1+j]); in != "" && strings.Trim(in, "hms") == "" &&
				(strings.Trim(in, "h") == "" || strings.Trim(in, "m") == "" || strings.Trim(in, "s") == "") {
				elapsed = true
			}
			i += j + 1
		case '%':
			percent = true
		case 'y', 'Y', 'd', 'D':
			date = true
		case 'h', 'H', 's', 'S':
			clock = true
		case 'm', 'M':
			month = true
		}
	}
	return classify(date, clock, month, elapsed, percent)
}

func classify(date, clock, month, elapsed, percent bool) valueKind {
	switch {
	case elapsed:
		return kindDuration
	case date:
		return kindDate
	case clock:
		return kindTime
	case month:
		return kindDate
	case percent:
		return kindPercent
	}
	return kindPlain
}

// amountRefusal says why a cell of the amount column that Excel shows as
// something other than a number (kind) is not an amount; text is the
// value as stored.
func amountRefusal(kind valueKind, text string, date1904 bool) string {
	shown := ""
	if kind != kindPlain {
		shown = pan.MaskText(showValue(kind, text, date1904))
	}
	in := func(what string) string {
		if shown == "" {
			return fmt.Sprintf("amount cell is formatted as %s in the spreadsheet; write the amount as a number, in a cell formatted as a number", what)
		}
		return fmt.Sprintf("amount cell is formatted as %s in the spreadsheet (%s); write the amount as a number, in a cell formatted as a number", what, shown)
	}
	switch kind {
	case kindDate:
		return in("a date")
	case kindTime:
		return in("a time")
	case kindDuration:
		return in("a duration")
	case kindPercent:
		return in("a percentage")
	case kindBoolean:
		return fmt.Sprintf("amount cell holds %s, a boolean, not a number; write the amount as a number", shown)
	case kindError:
		return fmt.Sprintf("amount cell holds the error %s (a formula that failed?), not a number; write the amount as a number", shown)
	}
	return ""
}

// showValue writes a stored value roughly as Excel shows it: a date as
// 2025-12-09 (with its time of day, if any), a time as 12:00:00, a
// duration as 36:00:00, a percentage as 15%. It is "" for a number no
// date or time can show (Excel shows ####).
func showValue(kind valueKind, text string, date1904 bool) string {
	switch kind {
	case kindBoolean:
		switch text {
		case "1":
			return "TRUE"
		case "0":
			return "FALSE"
		}
		return text
	case kindError:
		return text
	case kindPercent:
		return percentText(excelDecimal(text))
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return text // a t="d" cell: an ISO 8601 date as text
	}
	if v < 0 || v >= 2958466 || math.IsNaN(v) { // 9999-12-31 is Excel's last day
		return ""
	}
	days := math.Floor(v)
	secs := int64(math.Round((v - days) * 86400))
	if secs == 86400 {
		days, secs = days+1, 0
	}
	clock := fmt.Sprintf("%02d:%02d:%02d", secs/3600, secs/60%60, secs%60)
	switch kind {
	case kindTime:
		return clock
	case kindDuration:
		total := int64(days)*86400 + secs
		return fmt.Sprintf("%d:%02d:%02d", total/3600, total/60%60, total%60)
	}
	var day string
	switch d := int(days); {
	case date1904:
		day = time.Date(1904, 1, 1+d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	case d == 0:
		day = "1900-01-00" // as Excel shows it
	case d == 60:
		day = "1900-02-29" // Lotus 1-2-3's leap day, which Excel keeps
	case d < 60:
		day = time.Date(1899, 12, 31+d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	default:
		day = time.Date(1899, 12, 30+d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	}
	if secs != 0 {
		return day + " " + clock
	}
	return day
}

// percentText writes a plain decimal ("0.155") times 100, as a
// percentage ("15.5%"), moving the point rather than multiplying.
func percentText(s string) string {
	neg := strings.HasPrefix(s, "-")
	intPart, frac, _ := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	if !digits(intPart+frac) || intPart+frac == "" {
		return s
	}
	frac += "00"
	intPart, frac = strings.TrimLeft(intPart+frac[:2], "0"), strings.TrimRight(frac[2:], "0")
	if intPart == "" {
		intPart = "0"
	}
	out := intPart
	if frac != "" {
		out += "." + frac
	}
	if neg && out != "0" {
		out = "-" + out
	}
	return out + "%"
}
