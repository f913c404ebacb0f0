package main

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/payrun/payrun/internal/pgtest"
)

func TestBenchPostgresFlags(t *testing.T) {
	if code, _, errOut := runCLI(t, "bench", "--night", "5", "--postgres", "postgres://db/x"); code != exitUsage || !strings.Contains(errOut, "--night") {
		t.Errorf("--night with --postgres: exit %d, %s", code, errOut)
	}
	// Nothing listens on port 1: the bench stops before it generates
	// anything, saying which server, without its password.
	code, _, errOut := runCLI(t, "bench", "--quick", "--stages", "webhook", "--postgres", "postgres://u:hunter2@127.0.0.1:1/postgres")
	if code == exitOK || !strings.Contains(errOut, "--postgres") || strings.Contains(errOut, "hunter2") || strings.Contains(errOut, "goroutine") {
		t.Errorf("unreachable server: exit %d, %s", code, errOut)
	}
}

// TestBenchPostgres runs one small stage on PostgreSQL end to end, as
// .ci/run does: both sides measured in child processes of the binary,
// each on a database of its own that is gone afterwards.
func TestBenchPostgres(t *testing.T) {
	admin := pgtest.Admin(t)
	bin := buildPayrun(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "bench", "--quick", "--postgres", admin, "--stages", "webhook", "--dir", t.TempDir())
	cmd.Env = append(os.Environ(), "PAYRUN_BENCH_POSTGRES=")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("bench: %v\n%s\n%s", err, out.String(), errb.String())
	}
	var row string
	for line := range strings.SplitSeq(out.String(), "\n") {
		if strings.HasPrefix(line, "webhook intake (PostgreSQL) ") {
			row = line // the table's row; its note below starts with "...:"
			break
		}
	}
	if row == "" || !strings.Contains(row, "2,000 signed TeemoPay callbacks") || !strings.Contains(row, "acknowledged, p99 < 100 ms") {
		t.Fatalf("no PostgreSQL webhook row of 2,000 callbacks with its goal:\n%s", out.String())
	}
	for _, side := range []string{"pg_webhook/ours", "pg_webhook/base"} {
		if !strings.Contains(errb.String(), side+"  ") {
			t.Errorf("no child measured %s:\n%s", side, errb.String())
		}
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var left int
	prefix := "payrun\\_bench\\_" + strconv.Itoa(cmd.Process.Pid) + "\\_%"
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname LIKE $1`, prefix).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("the bench left %d databases behind", left)
	}
}
