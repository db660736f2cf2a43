package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// The documentation's code blocks, as the doc tests read them (docs_run_test.go runs the
// shell and console blocks; docs_scheduled_test.go and docs_actions_test.go take the CronJob,
// the cron line and the workflow from theirs).

// mdBlock is one fenced code block of a Markdown file.
type mdBlock struct {
	File    string   // the file as failures name it: README.md, docs/scheduled-apply.md
	Line    int      // the line of the opening fence
	Lang    string   // the first word of the info string: sh, console, yaml, or ""
	Lines   []string // the content, without the fences
	Heading string   // the nearest heading above it, without the #s
	NotRun  string   // the reason of a <!-- not run: REASON --> line right above it
}

var notRunMarker = regexp.MustCompile(`^<!--\s*not run\b:?\s*(.*?)\s*-->$`)

// readBlocks returns the fenced code blocks of the Markdown file at path, named name in
// positions. A not-run marker without a reason, or one that no block follows, is an error.
func readBlocks(path, name string) ([]mdBlock, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var (
		blocks  []mdBlock
		cur     *mdBlock
		heading string
		notRun  string // the pending marker's reason
		markAt  int    // its line, 0 for none
	)
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		if cur != nil {
			if strings.TrimSpace(line) == "```" {
				blocks = append(blocks, *cur)
				cur = nil
				continue
			}
			cur.Lines = append(cur.Lines, line)
			continue
		}
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "```"):
			cur = &mdBlock{File: name, Line: n, Lang: firstWord(strings.TrimPrefix(trimmed, "```")), Heading: heading}
			if markAt != 0 {
				cur.NotRun = notRun
				markAt = 0
			}
		case trimmed == "":
		case markAt != 0:
			return nil, fmt.Errorf("%s:%d: a <!-- not run --> marker must stand right above the code block it skips", name, markAt)
		case notRunMarker.MatchString(trimmed):
			notRun = notRunMarker.FindStringSubmatch(trimmed)[1]
			if notRun == "" {
				return nil, fmt.Errorf("%s:%d: a <!-- not run --> marker must give its reason: <!-- not run: REASON -->", name, n)
			}
			markAt = n
		case strings.HasPrefix(trimmed, "#"):
			heading = strings.TrimSpace(strings.TrimLeft(trimmed, "#"))
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: the code block is never closed", name, cur.Line)
	}
	if markAt != 0 {
		return nil, fmt.Errorf("%s:%d: a <!-- not run --> marker must stand right above the code block it skips", name, markAt)
	}
	return blocks, nil
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// docCommand is one command of a shell or console block.
type docCommand struct {
	Pos    string  // FILE:LINE of its first line
	Text   string  // as written; continued lines joined with newlines
	Exit   int     // the exit code it must end with: 0, or N from a trailing "# exits N"
	Output *string // console blocks: the output shown after it, exactly
}

// exitsComment is the convention for a command that is meant to fail: its (last) line ends
// with a comment that starts "exits N", e.g. "# exits 2: the demo injects one failure".
var exitsComment = regexp.MustCompile(`\s#\s*exits\s+(\d+)\b[^'"]*$`)

func newCommand(b mdBlock, line int, text string) docCommand {
	c := docCommand{Pos: fmt.Sprintf("%s:%d", b.File, line), Text: text}
	last := text[strings.LastIndex(text, "\n")+1:]
	if m := exitsComment.FindStringSubmatch(last); m != nil {
		c.Exit, _ = strconv.Atoi(m[1])
	}
	return c
}

// shellCommands splits a sh block into commands: a line ending in a backslash continues on
// the next; blank lines and comment lines are not commands.
func shellCommands(b mdBlock) []docCommand {
	var cmds []docCommand
	for i := 0; i < len(b.Lines); i++ {
		line := b.Lines[i]
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		start, text := i, line
		for strings.HasSuffix(text, `\`) && i+1 < len(b.Lines) {
			i++
			text += "\n" + b.Lines[i]
		}
		cmds = append(cmds, newCommand(b, b.Line+1+start, text))
	}
	return cmds
}

// consoleCommands reads a console block: each "$ " line is a command, and the lines up to
// the next one are its output, stdout and stderr together.
func consoleCommands(b mdBlock) ([]docCommand, error) {
	var cmds []docCommand
	for i, line := range b.Lines {
		if text, ok := strings.CutPrefix(line, "$ "); ok {
			c := newCommand(b, b.Line+1+i, text)
			c.Output = new(string)
			cmds = append(cmds, c)
			continue
		}
		if len(cmds) == 0 {
			return nil, fmt.Errorf("%s:%d: a console block starts with a \"$ \" command line", b.File, b.Line+1+i)
		}
		*cmds[len(cmds)-1].Output += line + "\n"
	}
	return cmds, nil
}
