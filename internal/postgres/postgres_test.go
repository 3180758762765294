package postgres

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func startServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func connect(t *testing.T, ctx context.Context, connString string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(ctx, connString)
	if err != nil {
		t.Fatalf("connecting to %s: %v", connString, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func count(t *testing.T, ctx context.Context, c *pgx.Conn) int {
	t.Helper()
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM work").Scan(&n); err != nil {
		t.Fatalf("counting rows: %v", err)
	}
	return n
}

// TestRestartKeepsData commits rows, restarts the server gracefully and
// after SIGKILL, and finds every committed row each time.
func TestRestartKeepsData(t *testing.T) {
	ctx := context.Background()
	log := filepath.Join(t.TempDir(), "pg.log")
	s := startServer(t, Config{Log: log, Settings: map[string]string{"max_connections": "20"}})
	c := connect(t, ctx, s.ConnString)
	if _, err := c.Exec(ctx, "CREATE TABLE work (id int PRIMARY KEY, owner text)"); err != nil {
		t.Fatal(err)
	}
	var maxConn string
	if err := c.QueryRow(ctx, "SHOW max_connections").Scan(&maxConn); err != nil || maxConn != "20" {
		t.Errorf("max_connections = %q, %v; want 20 from Settings", maxConn, err)
	}
	insert := func(c *pgx.Conn, from int) {
		for i := from; i < from+10; i++ {
			if _, err := c.Exec(ctx, "INSERT INTO work VALUES ($1, '')", i); err != nil {
				t.Fatal(err)
			}
		}
	}
	insert(c, 0)
	oldPid := s.Pid()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.Pid() == oldPid || s.Pid() == 0 {
		t.Errorf("Restart: pid %d, was %d; want a new postmaster", s.Pid(), oldPid)
	}
	if err := c.Ping(ctx); err == nil {
		t.Error("a connection from before Restart still works, want it cut")
	}
	c = connect(t, ctx, s.ConnString)
	if n := count(t, ctx, c); n != 10 {
		t.Errorf("after Restart: %d rows, want 10", n)
	}
	insert(c, 10)
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if s.Pid() != 0 {
		t.Errorf("after Kill: pid %d, want 0", s.Pid())
	}
	if _, err := pgx.Connect(ctx, s.ConnString); err == nil {
		t.Error("connected to a killed server")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	c = connect(t, ctx, s.ConnString)
	if n := count(t, ctx, c); n != 20 {
		t.Errorf("after Kill and Restart: %d rows, want 20", n)
	}
	if b, err := os.ReadFile(log); err != nil || !strings.Contains(string(b), "database system was interrupted") {
		t.Errorf("server log after Kill: %v; want crash recovery in it: %s", err, b)
	}
}

// TestSkipLocked checks that two sessions claiming work with FOR UPDATE
// SKIP LOCKED never take the same row: the replicas' scheduler needs it.
func TestSkipLocked(t *testing.T) {
	ctx := context.Background()
	s := startServer(t, Config{})
	a := connect(t, ctx, s.ConnString)
	b := connect(t, ctx, s.ConnString)
	if _, err := a.Exec(ctx, "CREATE TABLE work (id int PRIMARY KEY, owner text); INSERT INTO work SELECT g, '' FROM generate_series(1, 4) g"); err != nil {
		t.Fatal(err)
	}
	claim := func(c *pgx.Conn) (pgx.Tx, []int) {
		tx, err := c.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := tx.Query(ctx, "SELECT id FROM work ORDER BY id LIMIT 2 FOR UPDATE SKIP LOCKED")
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			t.Fatal(err)
		}
		return tx, ids
	}
	txA, idsA := claim(a)
	txB, idsB := claim(b)
	if len(idsA) != 2 || len(idsB) != 2 || idsA[0] != 1 || idsB[0] != 3 {
		t.Errorf("claims = %v and %v, want [1 2] and [3 4]", idsA, idsB)
	}
	// A third claim while both hold their rows finds nothing to take.
	txC, idsC := claim(connect(t, ctx, s.ConnString))
	if len(idsC) != 0 {
		t.Errorf("third claim = %v, want none", idsC)
	}
	txC.Rollback(ctx)
	if err := txA.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	txB.Commit(ctx)
	// Rows a session gives back are claimable again.
	tx, ids := claim(b)
	if len(ids) != 2 || ids[0] != 1 {
		t.Errorf("claim after a rollback = %v, want [1 2]", ids)
	}
	tx.Rollback(ctx)
}

// TestNoTCP checks that the server listens on its socket only.
func TestNoTCP(t *testing.T) {
	s := startServer(t, Config{})
	ctx := context.Background()
	c := connect(t, ctx, s.ConnString)
	var addrs string
	if err := c.QueryRow(ctx, "SHOW listen_addresses").Scan(&addrs); err != nil || addrs != "" {
		t.Errorf("listen_addresses = %q, %v; want empty", addrs, err)
	}
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:5432", time.Second); err == nil {
		conn.Close()
		t.Log("something listens on 127.0.0.1:5432; not this server (listen_addresses is empty)")
	}
	fi, err := os.Stat(s.socketPath())
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket %s: %v, %v; want a socket", s.socketPath(), fi, err)
	}
}

// TestStopRemovesTemp checks Stop's cleanup and that a stopped server
// cannot be revived.
func TestStopRemovesTemp(t *testing.T) {
	s, err := Start(Config{})
	if err != nil {
		t.Fatal(err)
	}
	pid := s.Pid()
	s.Stop()
	s.Stop()
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("folder %s after Stop: %v, want it gone", s.Dir, err)
	}
	if err := syscallAlive(pid); err == nil {
		t.Errorf("postmaster %d still runs after Stop", pid)
	}
	if err := s.Restart(); !errors.Is(err, ErrStopped) {
		t.Errorf("Restart after Stop = %v, want ErrStopped", err)
	}
	if err := s.Kill(); !errors.Is(err, ErrStopped) {
		t.Errorf("Kill after Stop = %v, want ErrStopped", err)
	}
}

// TestKeepDir checks that a given folder is kept, and that a second
// Start on it uses its data instead of running initdb again.
func TestKeepDir(t *testing.T) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "tep-pgkeep")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s, err := Start(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(ctx, s.ConnString)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "CREATE TABLE work (id int)"); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	s.Stop()
	s = startServer(t, Config{Dir: dir})
	if n := count(t, ctx, connect(t, ctx, s.ConnString)); n != 0 {
		t.Errorf("table in a kept folder: %d rows, want 0", n)
	}
}

// TestStartFails checks that failures carry what the tools said.
func TestStartFails(t *testing.T) {
	before, _ := filepath.Glob(filepath.Join(os.TempDir(), "tep-pg*"))
	defer func() {
		// A failed Start leaves no temporary folder behind.
		after, _ := filepath.Glob(filepath.Join(os.TempDir(), "tep-pg*"))
		if len(after) != len(before) {
			t.Errorf("temporary folders %v after failed starts, %v before", after, before)
		}
	}()
	if _, err := Start(Config{Bin: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "initdb") {
		t.Errorf("Start with no binaries = %v, want an initdb error", err)
	}
	long := "/tmp/" + strings.Repeat("x", 120)
	if _, err := Start(Config{Dir: long}); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("Start in %s = %v, want a socket path error", long, err)
	}
	os.RemoveAll(long)
	s, err := Start(Config{Settings: map[string]string{"no_such_setting": "1"}})
	if err == nil {
		s.Stop()
		t.Fatal("Start with an unknown setting succeeded")
	}
	if !strings.Contains(err.Error(), "no_such_setting") {
		t.Errorf("Start with an unknown setting = %v, want the server's complaint", err)
	}
}

// syscallAlive is nil while a process with pid exists.
func syscallAlive(pid int) error { return syscall.Kill(pid, 0) }
