package reconcile

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestReadBody: a body is read whole whatever its stated length says, and
// refused beyond the cap whether or not it states one.
func TestReadBody(t *testing.T) {
	const max = 100
	for _, c := range []struct {
		name   string
		body   string
		length int64
		tooBig bool
	}{
		{"as stated", strings.Repeat("a", 60), 60, false},
		{"at the cap", strings.Repeat("a", max), max, false},
		{"no length", strings.Repeat("a", 60), -1, false},
		{"longer than stated", strings.Repeat("a", 80), 10, false},
		{"shorter than stated", strings.Repeat("a", 10), 80, false},
		{"empty", "", 0, false},
		{"over the cap", strings.Repeat("a", max+1), max + 1, true},
		{"over the cap, stated short", strings.Repeat("a", 3*max), 10, true},
		{"over the cap, no length", strings.Repeat("a", 3*max), -1, true},
		{"stated beyond what is allocated up front", strings.Repeat("a", max), maxUpfront + max, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/webhooks/monnet", io.MultiReader(strings.NewReader(c.body)))
			r.ContentLength = c.length
			got, err := readBody(httptest.NewRecorder(), r, max)
			var mb *http.MaxBytesError
			switch {
			case c.tooBig && !errors.As(err, &mb):
				t.Fatalf("err = %v, want a MaxBytesError", err)
			case !c.tooBig && err != nil:
				t.Fatal(err)
			case !c.tooBig && !bytes.Equal(got, []byte(c.body)):
				t.Fatalf("read %d bytes, want %d", len(got), len(c.body))
			}
		})
	}
}
