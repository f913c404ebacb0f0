package bench

import (
	"slices"
	"strings"
	"testing"
)

func TestBenchDBNameIsAnIdentifierOfThisProcess(t *testing.T) {
	for _, label := range []string{"ingest/ours", "pg_webhook/base", "Journal", strings.Repeat("x/", 60)} {
		n := dbName(4242, 7, label)
		if len(n) > 63 || notIdent.MatchString(n) || strings.HasSuffix(n, "_") {
			t.Errorf("dbName(%q) = %q: not a plain identifier of at most 63 bytes", label, n)
		}
		if m := leftovers.FindStringSubmatch(n); m == nil || m[1] != "4242" {
			t.Errorf("dbName(%q) = %q: the leftover pattern does not find pid 4242 in it", label, n)
		}
	}
	if a, b := dbName(1, 1, "ingest/ours"), dbName(1, 2, "ingest/ours"); a == b {
		t.Errorf("two databases of one side share the name %q", a)
	}
	if got := dbName(12, 3, "ingest/ours"); got != "payrun_bench_12_3_ingest_ours" {
		t.Errorf("dbName = %q", got)
	}
}

func TestBenchWithDB(t *testing.T) {
	for _, c := range []struct{ admin, want string }{
		{"postgres://postgres@127.0.0.1:55432/postgres", "postgres://postgres@127.0.0.1:55432/payrun_bench_1"},
		{"postgresql://u:p@db/postgres?sslmode=disable", "postgresql://u:p@db/payrun_bench_1?sslmode=disable"},
		{"postgres://db", "postgres://db/payrun_bench_1"},
		{"host=db user=u dbname=postgres", "host=db user=u dbname=postgres dbname=payrun_bench_1"},
	} {
		got, err := withDB(c.admin, "payrun_bench_1")
		if err != nil || got != c.want {
			t.Errorf("withDB(%q) = %q, %v; want %q", c.admin, got, err, c.want)
		}
	}
	if _, err := withDB("  ", "x"); err == nil {
		t.Error("an empty connection string was accepted")
	}
	if _, err := withDB("postgres://u:secret@db:bad/x", "x"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("a bad URL: %v (want an error without the password)", err)
	}
}

// Every PostgreSQL stage is a stage of the table, and each has both
// sides (and the journal's builder) among the children's jobs.
func TestBenchPostgresStagesHaveTheirSides(t *testing.T) {
	for _, s := range PostgresStages {
		if !slices.Contains(StageNames, s) {
			t.Errorf("PostgreSQL stage %q is not in StageNames", s)
		}
		for _, side := range []string{"/ours", "/base"} {
			if sides["pg_"+s+side] == nil {
				t.Errorf("no child job pg_%s%s", s, side)
			}
		}
	}
	if sides["pg_journal/build"] == nil {
		t.Error("no child job pg_journal/build")
	}
}
