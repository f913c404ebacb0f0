package daemon

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestWarnAggregatorCountsAStorm: under a storm of one warning per
// provider, the first of each kind is written, the rest counted and told
// in one line per kind when the interval ends; other levels, warnings of
// other kinds and warnings marked as events pass through.
func TestWarnAggregatorCountsAStorm(t *testing.T) {
	clock := newFakeClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	var out bytes.Buffer
	agg := NewWarnAggregator(slog.NewJSONHandler(&out, nil), time.Minute, clock.Now)
	log := slog.New(agg).With("component", "receiver")
	for i := 0; i < 1000; i++ {
		log.Warn("webhook refused", "provider", "teemopay", "remote", "10.0.0.1")
		if i%2 == 0 {
			log.Warn("webhook refused", "provider", "monnet")
		}
		log.Info("webhook accepted", "provider", "teemopay")
	}
	log.WarnContext(event, "file held for approval", "file", "a.csv")
	log.WarnContext(event, "file held for approval", "file", "b.csv")
	count := func(msg string) int { return strings.Count(out.String(), `"msg":"`+msg+`"`) }
	if count("webhook refused") != 2 || count("webhook accepted") != 1000 || count("file held for approval") != 2 {
		t.Fatalf("before the interval ends: %d refused, %d accepted, %d held lines", count("webhook refused"),
			count("webhook accepted"), count("file held for approval"))
	}
	agg.Flush(false)
	if count("repeated warning: webhook refused") != 0 {
		t.Fatal("counts written before the interval ended")
	}
	clock.Advance(time.Minute)
	agg.Flush(false)
	var lines []map[string]any
	for _, l := range strings.Split(out.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "repeated warning: webhook refused" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 2 || lines[0]["provider"] != "monnet" || lines[0]["more"] != float64(499) ||
		lines[1]["provider"] != "teemopay" || lines[1]["more"] != float64(999) || lines[1]["within"] != "1m0s" ||
		lines[1]["component"] != "receiver" {
		t.Fatalf("count lines: %v", lines)
	}
	// A new interval writes the first again.
	log.Warn("webhook refused", "provider", "teemopay")
	if count("webhook refused") != 3 {
		t.Fatalf("first warning of a new interval not written")
	}
	agg.Flush(true)
	if count("repeated warning: webhook refused") != 2 {
		t.Fatal("a forced flush wrote counts of nothing left out")
	}
}

// BenchmarkWarnAggregatorStorm is the cost of one warning of a storm: the
// first of its kind written, the rest counted.
func BenchmarkWarnAggregatorStorm(b *testing.B) {
	log := slog.New(NewWarnAggregator(slog.NewJSONHandler(io.Discard, nil), time.Minute, nil))
	b.ReportAllocs()
	for b.Loop() {
		log.Warn("webhook refused", "provider", "teemopay", "remote", "10.0.0.1")
	}
}
