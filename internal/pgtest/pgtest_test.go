package pgtest

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// The server takes password logins over loopback TCP into a fresh database, and refuses a
// wrong password: the backend's tests depend on both.
func TestServerTakesPasswordLoginsOnLoopback(t *testing.T) {
	s := Start(t)
	db := s.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.URLWithPassword(db))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var name string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil || name != db {
		t.Fatalf("current_database() = %q, %v; want %q", name, err, db)
	}
	bad, err := pgx.ParseConfig(s.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	bad.Password = "wrong"
	if c, err := pgx.ConnectConfig(ctx, bad); err == nil {
		c.Close(ctx)
		t.Fatal("a wrong password was accepted")
	}
}
