package batch

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
)

// FuzzReadCSV feeds arbitrary bytes to the CSV reader. It must never
// panic, row numbers must grow, and the rows it reads, written back as a
// plain CSV file, must read back the same. Crashers are kept under
// testdata/fuzz/FuzzReadCSV.
func FuzzReadCSV(f *testing.F) {
	// Seeds stay small: every input the fuzzer finds interesting is
	// minimized, in steps that grow with the square of its length, and a
	// worker minimizing a mutation of a 4 KB file shows no progress for
	// the whole of -fuzztime (the CI step "stalled" on it):
	// testdata/fuzz/FuzzReadCSV/minimizing-stall is the input such a
	// worker was minimizing. The files under testdata are read by the
	// other tests.
	for _, s := range []string{
		"",
		minimalHeader,
		minimalHeader + "\nA,monnet,wallet,PE,PEN,1\n",
		"\ufeff" + minimalHeader + ",x\r\n\"A\",\"mon\"\"net\",,,,\"1\r\n2\",extra\r\n",
		minimalHeader + "\nA,b,\"c\n",
		minimalHeader + ",,\nA,b,c,d,e,f,g,h\n",
		"payout_id;provider;method;country;currency;amount\n\xd1;\xf3;;;;\n",
		"payout_id\tprovider\tmethod\tcountry\tcurrency\tamount\tNotas\n1\t2\t3\t4\t5\t6\t7\n",
		minimalHeader + "\n\"unterminated,a,b,c,d,e\n" + "B,a,b,c,d,e\n",
		minimalHeader + ",description\n\n,,,,,,\nA,monnet,wallet,PE,PEN,1,\"tarjeta 4111 1111 1111 1111\"\n",
		"Referencia;Proveedor;M\xe9todo;Pa\xeds;Moneda;Importe\r\nR1;teemopay;bank_transfer;PE;PEN;250,50\r\n",
		"payout_id,provider,method,currency,amount,benificiary_name\nA,bank131,card_token,RUB,1,x\n",
	} {
		f.Add([]byte(s))
	}
	if fl := flag.Lookup("test.fuzzminimizetime"); fl != nil && !flagSet("test.fuzzminimizetime") {
		// A new input is minimized for at most this long (the default is
		// a minute, longer than the CI step), so that the worker goes
		// back to fuzzing.
		if err := fl.Value.Set("2s"); err != nil {
			f.Fatal(err)
		}
	}
	// One directory for every input a worker runs: a temporary directory
	// per input costs more than reading the input does.
	dir := f.TempDir()
	var seq atomic.Int64
	f.Fuzz(func(t *testing.T, data []byte) {
		n := seq.Add(1)
		p := filepath.Join(dir, fmt.Sprintf("in-%d.csv", n))
		defer os.Remove(p)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		src, rows, ok := fuzzRead(t, p)
		if !ok {
			return
		}
		last := 0
		for _, r := range rows {
			if r.Number <= last {
				t.Fatalf("row numbers do not grow: %d after %d", r.Number, last)
			}
			last = r.Number
			if len(r.Extra) != len(src.Extra) {
				t.Fatalf("row %d has %d extra values for %d extra columns", r.Number, len(r.Extra), len(src.Extra))
			}
			v := NewValidator(ValidateOptions{})
			v.Check(src, r) // must not panic either
		}
		// Write the rows back, every field quoted, and read them again.
		var cols []string
		for _, c := range CanonicalColumns {
			if src.Has(c) {
				cols = append(cols, c)
			}
		}
		var b strings.Builder
		b.WriteString("\ufeff")
		writeQuoted(&b, append(append([]string(nil), cols...), src.Extra...))
		for _, r := range rows {
			var rec []string
			for _, c := range cols {
				rec = append(rec, r.Get(c))
			}
			writeQuoted(&b, append(rec, r.Extra...))
		}
		p2 := filepath.Join(dir, fmt.Sprintf("back-%d.csv", n))
		defer os.Remove(p2)
		if err := os.WriteFile(p2, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		_, back, ok := fuzzRead(t, p2)
		if !ok && len(rows) > 0 {
			t.Fatalf("the written-back file cannot be opened:\n%q", b.String())
		}
		if len(back) != len(rows) {
			t.Fatalf("read back %d rows, want %d\n%q", len(back), len(rows), b.String())
		}
		for i := range rows {
			a, z := rows[i], back[i]
			a.Number, z.Number = 0, 0
			// Card numbers were masked on the first read: the second finds
			// none, and the values are the same.
			a.cards, z.cards = nil, nil
			if len(a.Extra) == 0 {
				a.Extra = nil
			}
			if len(z.Extra) == 0 {
				z.Extra = nil
			}
			if !reflect.DeepEqual(a, z) {
				t.Fatalf("row %d read back differently:\n%+v\n%+v", rows[i].Number, a, z)
			}
		}
	})
}

// flagSet reports whether the flag was given on the command line.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// fuzzRead reads every good row; ok is false when the file is refused.
func fuzzRead(t *testing.T, p string) (Source, []Row, bool) {
	rd, err := OpenFile(p, ReadOptions{MaxRows: 10_000})
	if err != nil {
		if !errors.Is(err, ErrInput) {
			t.Fatalf("OpenFile: %v is not an input error", err)
		}
		return Source{}, nil, false
	}
	defer rd.Close()
	rows, rerrs := readRows(t, rd)
	for _, re := range rerrs {
		if re.Row < 1 {
			t.Fatalf("row error on row %d", re.Row)
		}
	}
	return rd.Source(), rows, true
}

func writeQuoted(b *strings.Builder, rec []string) {
	for i, v := range rec {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(strings.ReplaceAll(v, `"`, `""`))
		b.WriteByte('"')
	}
	b.WriteString("\n")
}
