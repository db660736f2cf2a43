// Package pgtest starts a throwaway PostgreSQL server for tests: initdb into a temporary
// directory, listening on loopback and a Unix socket only, stopped and removed when the test
// ends. It uses the server binaries from Debian's postgresql package (found on PATH or under
// /usr/lib/postgresql/*/bin). PostgreSQL refuses to run as root, so under root the server
// runs as the postgres user through runuser.
//
// Where no server is installed the test is skipped with a message; with
// UPGRADEPLAN_REQUIRE_POSTGRES=1 (set by .ci/run, which installs PostgreSQL) it fails
// instead, so CI cannot pass by skipping.
//
// Run starts a server of its own outside a test (the bench's -state postgres), optionally
// durable: fsync and synchronous commits on, as a production server runs.
package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a running PostgreSQL server.
type Server struct {
	// Host and Port are the loopback TCP address; Socket the Unix socket directory.
	Host   string
	Port   int
	Socket string
	// User is the superuser; Password its password (password authentication over TCP).
	User     string
	Password string

	dir  string
	bin  string
	asPG bool
	mu   sync.Mutex
	dbs  int
}

// URL is a connection URL without the password (which must come from the environment or
// a PGPASSFILE, as upgradeplan requires) for database db.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", s.User, s.Host, s.Port, db)
}

// URLWithPassword carries the password, for test helpers that connect directly.
func (s *Server) URLWithPassword(db string) string {
	return fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", s.User, s.Password, s.Host, s.Port, db)
}

// Env is the environment a child process needs to connect: PGPASSWORD.
func (s *Server) Env() []string { return []string{"PGPASSWORD=" + s.Password} }

// NewDatabase creates an empty database and returns its name: tests share one server and
// keep apart by database.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	s.mu.Lock()
	s.dbs++
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.dbs)
	s.mu.Unlock()
	if err := s.CreateDatabase(name); err != nil {
		t.Fatal(err)
	}
	return name
}

// CreateDatabase creates an empty database named name.
func (s *Server) CreateDatabase(name string) error {
	return s.psql("postgres", "CREATE DATABASE "+name)
}

// psql runs one statement as the superuser over the Unix socket.
func (s *Server) psql(db, sql string) error {
	out, err := s.command(filepath.Join(s.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-h", s.Socket, "-p", strconv.Itoa(s.Port), "-U", s.User, "-d", db, "-c", sql).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: psql %q: %v\n%s", sql, err, out)
	}
	return nil
}

var (
	shared     *Server
	sharedErr  error
	sharedOnce sync.Once
)

// Start returns the package's server, starting it on first use; it is stopped by Stop,
// which a TestMain calls (or at process exit, the data directory is in the OS's temp dir
// and the server is left to die with the machine's session). Tests keep apart with
// NewDatabase.
func Start(t testing.TB) *Server {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = Run(Options{}) })
	if sharedErr != nil {
		if os.Getenv("UPGRADEPLAN_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("pgtest: %v (UPGRADEPLAN_REQUIRE_POSTGRES=1: this test may not be skipped)", sharedErr)
		}
		t.Skipf("pgtest: %v", sharedErr)
	}
	return shared
}

// Stop stops the server Start started, if any, and removes its files.
func Stop() {
	if shared != nil {
		shared.Stop()
		shared = nil
	}
}

// Options say how a server runs.
type Options struct {
	// Durable keeps fsync and synchronous commits on, as a production server runs; the
	// tests' server turns them off (a test's database dies with it).
	Durable bool
}

// findBin returns the directory holding initdb and pg_ctl.
func findBin() (string, error) {
	// PATH may hold a symlink to one binary (pg_ctl) without its siblings: resolve it.
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			if _, err := os.Stat(filepath.Join(filepath.Dir(real), "psql")); err == nil {
				return filepath.Dir(real), nil
			}
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs))) // newest major first
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL server binaries (pg_ctl) on PATH or under /usr/lib/postgresql/*/bin: apt-get install -y postgresql")
}

// Run starts a server of its own (not Start's shared one) and returns it running; the
// caller stops it with Stop.
func Run(o Options) (*Server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	s := &Server{Host: "127.0.0.1", User: "upgradeplan", Password: "pgtest-" + strconv.FormatInt(time.Now().UnixNano(), 36), bin: bin}
	s.dir, err = os.MkdirTemp("", "upgradeplan-pgtest-")
	if err != nil {
		return nil, err
	}
	s.Socket = s.dir
	data := filepath.Join(s.dir, "data")
	pwfile := filepath.Join(s.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.Password+"\n"), 0o600); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		s.asPG = true
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and there is no postgres user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, p := range []string{s.dir, pwfile} {
			if err := os.Chown(p, uid, gid); err != nil {
				return nil, err
			}
		}
		if err := os.Chmod(s.dir, 0o755); err != nil {
			return nil, err
		}
	}
	if out, err := s.command(filepath.Join(bin, "initdb"), "-D", data, "-U", s.User, "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-instructions").CombinedOutput(); err != nil {
		s.Stop()
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s.Port = port
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c max_connections=200", port, s.dir)
		if !o.Durable {
			opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
		}
		out, err := s.command(filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(s.dir, "log"), "-o", opts, "-w", "-t", "60", "start").CombinedOutput()
		if err == nil {
			return s, nil
		}
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		if !bytes.Contains(log, []byte("in use")) {
			s.Stop()
			return nil, fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
		}
	}
	s.Stop()
	return nil, fmt.Errorf("pg_ctl start: no free port after 5 attempts")
}

func (s *Server) command(name string, args ...string) *exec.Cmd {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	_ = cancel // the process ends before the deadline or is killed by it
	if s.asPG {
		return exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	return exec.CommandContext(ctx, name, args...)
}

// Stop stops the server and removes its files.
func (s *Server) Stop() {
	data := filepath.Join(s.dir, "data")
	if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err == nil {
		_ = s.command(filepath.Join(s.bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop").Run()
	}
	if s.dir != "" && strings.Contains(s.dir, "upgradeplan-pgtest-") {
		_ = os.RemoveAll(s.dir)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
