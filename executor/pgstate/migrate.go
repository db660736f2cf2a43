package pgstate

import (
	"context"
	"embed"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The schema's versions: migrations/NNNN_name.sql, applied in order, each once, in one
// transaction each, recorded in upgradeplan.schema_migrations.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	names, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, n := range names {
		num, _, ok := strings.Cut(n.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql", n.Name())
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", n.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: strings.TrimSuffix(n.Name(), ".sql"), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// SchemaVersion is the newest schema version this binary knows.
func SchemaVersion() int {
	ms, _ := migrations()
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrateKey is the transaction advisory lock that serialises migrators.
const migrateKey = 0x75706770_6d696772 // "upgp" "migr"

// migrate brings the schema to SchemaVersion. Runners starting at once wait for each other
// on a transaction advisory lock; a database already migrated further than this binary knows
// is refused, since its tables may mean what this binary does not.
func migrate(ctx context.Context, conn *pgx.Conn) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrateKey)); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS upgradeplan;
CREATE TABLE IF NOT EXISTS upgradeplan.schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
		return err
	}
	var have int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM upgradeplan.schema_migrations").Scan(&have); err != nil {
		return err
	}
	if want := SchemaVersion(); have > want {
		return fmt.Errorf("the state database's schema is version %d, newer than this upgradeplan knows (%d): upgrade upgradeplan", have, want)
	}
	for _, m := range ms {
		if m.version <= have {
			continue
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("schema migration %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO upgradeplan.schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}
