package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The runner's own conventions, on a document written to break each of them: a failure
// names the line a reader would look at.
func TestDocRunnerNamesTheLineThatDoesNotDoWhatTheDocSays(t *testing.T) {
	cases := []struct {
		name, doc, want string
	}{
		{"exports carry over between blocks, and a passing doc passes",
			"```sh\nexport A=1\n```\n\ntext\n\n```sh\ntest \"$A\" = 1\nfalse   # exits 1\n```\n", ""},
		{"a command that fails without saying so",
			"# Title\n\n```sh\ntrue\nfalse\n```\n", "doc.md:5: exit 1, want 0"},
		{"a command that exits otherwise than its comment says",
			"```sh\nexit_3() { return 3; }\nexit_3   # exits 2: wrong\n```\n", "doc.md:3: exit 3, want 2"},
		{"a continued line is one command, named by its first line",
			"```sh\necho a \\\n  b; false\n```\n", "doc.md:2: exit 1, want 0"},
		{"console output must match exactly",
			"```console\n$ echo one\none\n$ echo two\nthree\n```\n", "doc.md:4: the output differs"},
		{"a not-run block is skipped",
			"<!-- not run: needs a cluster -->\n```sh\nfalse\n```\n", ""},
		{"blocks in other languages are not run",
			"```yaml\nfalse\n```\n\n```\nfalse\n```\n", ""},
		{"the docs' port is replaced by a free one",
			"```sh\ntest 127.0.0.1:40123 != 127.0.0.1:4012''3\n```\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "doc.md")
			if err := os.WriteFile(path, []byte(tc.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			blocks, err := readBlocks(path, "doc.md")
			if err != nil {
				t.Fatal(err)
			}
			failure, session, err := runDocSession(t, dir, blocks)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" && failure != "" || !strings.HasPrefix(failure, tc.want) {
				t.Errorf("failure %q, want %q\n%s", failure, tc.want, session)
			}
		})
	}
}

func TestDocRunnerRefusesAMarkerWithoutReason(t *testing.T) {
	for doc, want := range map[string]string{
		"<!-- not run -->\n```sh\nfalse\n```\n":                      "doc.md:1: a <!-- not run --> marker must give its reason",
		"<!-- not run: a reason -->\nsome text\n```sh\nfalse\n```\n": "doc.md:1: a <!-- not run --> marker must stand right above",
		"```sh\ntrue\n": "doc.md:1: the code block is never closed",
	} {
		path := filepath.Join(t.TempDir(), "doc.md")
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := readBlocks(path, "doc.md"); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", doc, err, want)
		}
	}
}
