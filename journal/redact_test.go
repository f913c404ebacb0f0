package journal

import (
	"strings"
	"testing"
)

// TestRedact: a location loses every password PostgreSQL would take from
// it (the URL's, the query's), and a URL that cannot be read keeps only
// its scheme; files and password-less URLs are shown as they are.
func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://payrun:s3cret@db:5432/payrun?sslmode=verify-full": "postgres://payrun:xxxxx@db:5432/payrun?sslmode=verify-full",
		"postgres://payrun@db/payrun?password=s3cret&sslmode=require": "postgres://payrun@db/payrun?password=xxxxx&sslmode=require",
		"postgresql://db/payrun?sslpassword=s3cret":                   "postgresql://db/payrun?sslpassword=xxxxx",
		"postgres://payrun:s3cr%zz@db/payrun":                         "postgres://…",
		"postgres://payrun@db/payrun":                                 "postgres://payrun@db/payrun",
		"/var/lib/payrun/payrun.db":                                   "/var/lib/payrun/payrun.db",
		"payrun.db":                                                   "payrun.db",
	} {
		got := Redact(in)
		if got != want || strings.Contains(got, "s3cr") {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
