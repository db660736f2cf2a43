package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The doc runner: every command README.md and docs/*.md show runs, as written, in the
// order they show it. The conventions (README.md, Development, says the same):
//
//   - The ```sh blocks of one document run in order in ONE bash session (exports carry
//     over), in a fresh work directory holding a copy of the repository's examples/, with
//     `upgradeplan` (this test binary, see TestMain) on PATH and nothing else of the caller's
//     environment but PATH: HOME is an empty directory of its own.
//   - Each command must exit 0, unless its line ends with a comment "# exits N".
//   - A block whose first command is `upgradeplan sim` is started in the background (the
//     docs say: in a terminal of its own), and the runner waits for its "listening on" line;
//     a later such block stops the earlier simulator first, as its reader would. The docs'
//     fixed port 40123 is replaced by a free one.
//   - A ```console block is "$ COMMAND" lines, each followed by its output (stdout and
//     stderr together), which must be exactly what the command prints.
//   - <!-- not run: REASON --> right above a block skips it; the reason is required.
//   - docs/*.md continue where README.md's "Try it" leaves off: testdata/docs/prelude.md
//     (a simulator and the exports) runs first, and the work directory also holds
//     testdata/docs (fleet/q4.yaml, the manifest the docs name, and its simulator state).
//
// A failure names the FILE:LINE of the command.

// docPort is the port the docs write; the runner gives each document a free one instead.
const docPort = "40123"

func TestDocsRunAsWritten(t *testing.T) {
	t.Parallel() // its commands' environment is their own, not the test process's
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	docs = append([]string{"../../README.md"}, docs...)
	prelude, err := readBlocks("testdata/docs/prelude.md", "cmd/upgradeplan/testdata/docs/prelude.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range docs {
		name := strings.TrimPrefix(path, "../../")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			blocks, err := readBlocks(path, name)
			if err != nil {
				t.Fatal(err)
			}
			if !hasRunnable(blocks) {
				return
			}
			work := t.TempDir()
			copyTree(t, "../../examples", filepath.Join(work, "examples"))
			if name != "README.md" {
				copyTree(t, "testdata/docs", work)
				blocks = append(append([]mdBlock(nil), prelude...), blocks...)
			}
			runDoc(t, work, blocks)
		})
	}
}

func hasRunnable(blocks []mdBlock) bool {
	for _, b := range blocks {
		if b.NotRun == "" && (isShell(b.Lang) || b.Lang == "console") {
			return true
		}
	}
	return false
}

func isShell(lang string) bool { return lang == "sh" || lang == "bash" || lang == "shell" }

// runDoc runs the blocks' commands in one bash session in work and fails the test at the
// first command that does not do what the document says.
func runDoc(t *testing.T, work string, blocks []mdBlock) {
	t.Helper()
	failure, session, err := runDocSession(t, work, blocks)
	if err != nil {
		t.Fatal(err)
	}
	if failure != "" {
		t.Fatalf("%s\n--- the session:\n%s", failure, session)
	}
	if testing.Verbose() {
		t.Logf("the session:\n%s", session)
	}
}

// runDocSession runs the script of blocks in work: failure is the first command's FILE:LINE
// and what it did wrong, "" when every command did what the document says; session is all
// it printed.
func runDocSession(t *testing.T, work string, blocks []mdBlock) (failure, session string, err error) {
	script, err := docScript(blocks, freePort(t))
	if err != nil {
		return "", "", err
	}
	runner := t.TempDir()
	if err := os.WriteFile(filepath.Join(runner, "doc.sh"), []byte(script), 0o600); err != nil {
		return "", "", err
	}
	home := filepath.Join(runner, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		return "", "", err
	}
	cmd := exec.Command("bash", filepath.Join(runner, "doc.sh"))
	cmd.Dir = work
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "DOCRUN=" + runner}
	if dir := os.Getenv("GOCOVERDIR"); dir != "" {
		cmd.Env = append(cmd.Env, "GOCOVERDIR="+dir)
	}
	out, runErr := cmd.CombinedOutput()
	if runErr == nil {
		return "", string(out), nil
	}
	msg, _ := os.ReadFile(filepath.Join(runner, "failure"))
	if len(msg) == 0 {
		msg = []byte(runErr.Error())
	}
	return strings.TrimSpace(string(msg)), string(out), nil
}

// freePort returns a loopback port nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// docRunnerFuncs is the top of every document's script: how a command is checked, and how a
// simulator is started and stopped. $DOCRUN is a directory of the runner's own.
const docRunnerFuncs = `set -u
__t0=${EPOCHREALTIME/./}
__step() { printf '+ %6.1fs %s\n' "$(( (${EPOCHREALTIME/./} - __t0) / 1000 ))e-3" "$1"; } # the time since the start, the command
__fail() { printf '%s: %s\n' "$1" "$2" | tee "$DOCRUN/failure" >&2; exit 1; }
__exit() { # POS WANT GOT COMMAND
	[ "$3" -eq "$2" ] && return
	if [ "$2" -eq 0 ]; then __fail "$1" "exit $3, want 0 (end the line with '# exits $3' if it is meant to fail): $4"; fi
	__fail "$1" "exit $3, want $2 (as its '# exits $2' says): $4"
}
__output() { # POS WANT-FILE
	diff -u --label "$1 (the document)" --label "what it printed" "$2" "$DOCRUN/out" || __fail "$1" "the output differs from the document's (diff above)"
}
__sim_pid=
__sim_stop() {
	[ -n "$__sim_pid" ] || return 0
	kill -INT "$__sim_pid" 2>/dev/null
	wait "$__sim_pid" 2>/dev/null
	__sim_pid=
}
trap __sim_stop EXIT
__sim_start() { # POS COMMAND
	__sim_stop
	: >"$DOCRUN/sim.out"
	eval "exec $2" >"$DOCRUN/sim.out" 2>"$DOCRUN/sim.err" &
	__sim_pid=$!
	until grep -q '^listening on ' "$DOCRUN/sim.out"; do
		if ! kill -0 "$__sim_pid" 2>/dev/null; then
			wait "$__sim_pid"
			__fail "$1" "the simulator exited $? before listening: $(cat "$DOCRUN/sim.err")"
		fi
		sleep 0.02
	done
	head -n 1 "$DOCRUN/sim.out"
}
`

// docScript turns the documents' runnable blocks into one bash script, port standing in
// for the docs' 40123.
func docScript(blocks []mdBlock, port string) (string, error) {
	var s strings.Builder
	s.WriteString(docRunnerFuncs)
	for _, b := range blocks {
		if b.NotRun != "" {
			continue
		}
		var cmds []docCommand
		switch {
		case isShell(b.Lang):
			cmds = shellCommands(b)
		case b.Lang == "console":
			var err error
			if cmds, err = consoleCommands(b); err != nil {
				return "", err
			}
		default:
			continue
		}
		if len(cmds) == 0 {
			return "", fmt.Errorf("%s:%d: a %s block without a command", b.File, b.Line, b.Lang)
		}
		for i, c := range cmds {
			text := strings.ReplaceAll(c.Text, docPort, port)
			fmt.Fprintf(&s, "\n__step %s\n", shellQuote(c.Pos+": "+c.Text))
			switch {
			case i == 0 && isShell(b.Lang) && strings.HasPrefix(text, "upgradeplan sim "):
				fmt.Fprintf(&s, "__sim_start %s %s\n", shellQuote(c.Pos), shellQuote(text))
			case c.Output != nil:
				fmt.Fprintf(&s, "eval %s >\"$DOCRUN/out\" 2>&1\n__rc=$?\ncat \"$DOCRUN/out\"\n", shellQuote(text))
				fmt.Fprintf(&s, "printf '%%s' %s >\"$DOCRUN/want\"\n", shellQuote(*c.Output))
				fmt.Fprintf(&s, "__output %s \"$DOCRUN/want\"\n", shellQuote(c.Pos))
				fmt.Fprintf(&s, "__exit %s %d \"$__rc\" %s\n", shellQuote(c.Pos), c.Exit, shellQuote(c.Text))
			default:
				fmt.Fprintf(&s, "eval %s\n__exit %s %d \"$?\" %s\n", shellQuote(text), shellQuote(c.Pos), c.Exit, shellQuote(c.Text))
			}
		}
	}
	return s.String(), nil
}

// copyTree copies the files under src into dst, keeping their relative paths.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		if !d.Type().IsRegular() {
			return errors.New(path + ": not a regular file")
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
