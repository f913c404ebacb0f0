package journal

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestBoundPayload: a payload up to MaxPayload is kept as it is; a larger
// one becomes its size and SHA-256, valid JSON of a few dozen bytes.
func TestBoundPayload(t *testing.T) {
	small := json.RawMessage(`{"status":"ok"}`)
	if got := boundPayload(small); !bytes.Equal(got, small) {
		t.Fatalf("small payload became %s", got)
	}
	big := json.RawMessage(`{"blob":"` + strings.Repeat("x", MaxPayload) + `"}`)
	got := boundPayload(big)
	var v struct {
		Omitted int    `json:"omitted_bytes"`
		SHA256  string `json:"sha256"`
	}
	if err := json.Unmarshal(got, &v); err != nil || v.Omitted != len(big) || len(v.SHA256) != 64 {
		t.Fatalf("large payload became %s (%v)", got, err)
	}
}
