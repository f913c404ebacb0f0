package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env is the variable naming the admin URL of the test server.
const Env = "PAYRUN_TEST_POSTGRES"

// Admin returns the admin URL, or skips t when none is set.
func Admin(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(Env)
	if dsn == "" {
		t.Skipf("PostgreSQL tests skipped: %s is not set. Start a server with `eval \"$(.ci/postgres.sh)\"` (as root: installs Debian's postgresql if missing) or point %s at an admin URL", Env, Env)
	}
	return dsn
}

var (
	tmplOnce sync.Once
	tmplName string
	tmplErr  error
	seq      atomic.Int64
)

// New creates a database for t, cloned from this binary's template, and
// returns its URL; the database is dropped when t ends. prepare runs once
// per binary, on the template (the first caller's prepare is the one
// used); a nil prepare makes an empty database instead.
func New(t testing.TB, prepare func(ctx context.Context, dsn string) error) string {
	t.Helper()
	admin := Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	create := `CREATE DATABASE %s`
	if prepare != nil {
		tmplOnce.Do(func() { tmplName, tmplErr = template(ctx, admin, prepare) })
		if tmplErr != nil {
			t.Fatalf("PostgreSQL at %s (%s): %v", redact(admin), Env, tmplErr)
		}
		create += ` TEMPLATE ` + tmplName
	}
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), seq.Add(1))
	if err := exec(ctx, admin, fmt.Sprintf(create, name)); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := exec(ctx, admin, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	return withDB(admin, name)
}

// template creates this binary's template database and prepares it,
// after dropping what test binaries that are gone left behind.
func template(ctx context.Context, admin string, prepare func(ctx context.Context, dsn string) error) (string, error) {
	if err := dropLeftovers(ctx, admin); err != nil {
		return "", err
	}
	name := fmt.Sprintf("payrun_tmpl_%d", os.Getpid())
	if err := exec(ctx, admin, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
		return "", err
	}
	if err := exec(ctx, admin, `CREATE DATABASE `+name); err != nil {
		return "", err
	}
	if prepare != nil {
		// prepare's connections must be closed when it returns: a
		// template with a session open cannot be cloned.
		if err := prepare(ctx, withDB(admin, name)); err != nil {
			return "", fmt.Errorf("prepare the template database: %w", err)
		}
	}
	return name, nil
}

// leftover matches the databases this package creates, with the process
// id of the test binary that created them.
var leftover = regexp.MustCompile(`^(?:payrun_tmpl|t)_(\d+)(?:_\d+)?$`)

// dropLeftovers drops the databases of test binaries no longer running
// (killed before their clean-up ran).
func dropLeftovers(ctx context.Context, admin string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'payrun\_tmpl\_%' OR datname LIKE 't\_%'`)
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, n := range names {
		m := leftover.FindStringSubmatch(n)
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if pid == os.Getpid() || alive(pid) {
			continue
		}
		if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+n+` WITH (FORCE)`); err != nil {
			return err
		}
	}
	return nil
}

// alive reports whether a process with that id exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func exec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDB returns dsn naming database name instead.
func withDB(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return dsn + " dbname=" + name
	}
	u.Path = "/" + name
	return u.String()
}

// redact returns dsn without its password.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
