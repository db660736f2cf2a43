package report

import (
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/upgradeplan/upgradeplan/internal/runecut"
)

// CommentLimit is GitHub's limit on an issue or pull-request comment, in characters.
const CommentLimit = 65536

// commentBudget is what a rendered document may use: below CommentLimit with room for a bot
// that wraps the report in a header or a <details> block. Sizes are counted in bytes, which
// is never less than GitHub's character count.
const commentBudget = 60000

// mdEscaper escapes the characters that would end a table cell, start inline Markdown, or be
// read as HTML. Line breaks become <br>, which GitHub renders inside a cell.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`, `~`, `\~`, `|`, `\|`,
	`&`, `&amp;`, `<`, `&lt;`, `>`, `&gt;`,
	"\r\n", "<br>", "\n", "<br>", "\r", "<br>", "\t", " ",
)

// Cell escapes s as plain text for a GFM table cell (or any inline position).
func Cell(s string) string {
	return mdEscaper.Replace(strings.TrimSpace(dropControls(s)))
}

// Code renders s as a code span that is safe inside a table cell: the fence is longer than
// any run of backticks in s, pipes are escaped (GFM splits cells before parsing code spans)
// and line breaks become spaces.
func Code(s string) string {
	s = strings.Join(strings.Fields(dropControls(s)), " ")
	if s == "" {
		return ""
	}
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + strings.ReplaceAll(s, "|", `\|`) + fence
}

// dropControls removes control characters other than tab and line breaks: clouds' error
// messages can carry them and neither Markdown nor XML can show them.
func dropControls(s string) string {
	if strings.IndexFunc(s, isDroppedControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isDroppedControl(r) {
			return -1
		}
		return r
	}, s)
}

func isDroppedControl(r rune) bool {
	return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r'
}

// Align is a table column's alignment.
type Align int

const (
	AlignLeft Align = iota
	AlignRight
	AlignCenter
)

// Table is a GFM table. Cells are written as given: escape text with Cell or Code.
type Table struct {
	Header []string
	Align  []Align // per column; missing columns are left-aligned
	Rows   [][]string
}

// NewTable returns a table with the given column headings (escaped for you).
func NewTable(header ...string) *Table {
	h := make([]string, len(header))
	for i, s := range header {
		h[i] = Cell(s)
	}
	return &Table{Header: h}
}

// AlignRight right-aligns the given columns (counts, durations).
func (t *Table) AlignRight(cols ...int) *Table {
	for _, c := range cols {
		for len(t.Align) <= c {
			t.Align = append(t.Align, AlignLeft)
		}
		t.Align[c] = AlignRight
	}
	return t
}

// Add appends a row of already-escaped cells; a short row is padded with empty cells.
func (t *Table) Add(cells ...string) { t.Rows = append(t.Rows, cells) }

// Len is the number of rows.
func (t *Table) Len() int { return len(t.Rows) }

// head renders the header and delimiter lines.
func (t *Table) head() string {
	var b strings.Builder
	t.writeRow(&b, t.Header)
	b.WriteString("|")
	for i := range t.Header {
		a := AlignLeft
		if i < len(t.Align) {
			a = t.Align[i]
		}
		switch a {
		case AlignRight:
			b.WriteString("---:|")
		case AlignCenter:
			b.WriteString(":---:|")
		default:
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	return b.String()
}

func (t *Table) row(i int) string {
	var b strings.Builder
	t.writeRow(&b, t.Rows[i])
	return b.String()
}

func (t *Table) writeRow(b *strings.Builder, cells []string) {
	b.WriteString("|")
	for i := range t.Header {
		c := ""
		if i < len(cells) {
			c = cells[i]
		}
		if c == "" {
			b.WriteString(" |")
			continue
		}
		b.WriteString(" " + c + " |")
	}
	b.WriteString("\n")
}

// String renders the whole table, ending with a newline.
func (t *Table) String() string {
	var b strings.Builder
	b.WriteString(t.head())
	for i := range t.Rows {
		b.WriteString(t.row(i))
	}
	return b.String()
}

// BoundedDoc builds a Markdown document that stays within a size limit. Text is always kept;
// each table comes with a one-line summary (its counts), and when the document is too long
// the largest tables are collapsed: cut to as many leading rows as fit, then to the summary
// alone. A table written after text ends that text with a blank line, as GFM needs.
type BoundedDoc struct {
	limit  int
	blocks []docBlock
	groups []sectionGroup
	open   int // index+1 of the group being written; 0 outside BeginSections/EndSections
}

// sectionGroup is a run of blocks (one heading and table per target, say) that is replaced
// as a whole by its summary table when even the collapsed blocks do not fit: with thousands
// of targets their headings alone outgrow a comment, and the document's head and tail (the
// outcome, the digest, the apply command) must survive at any size.
type sectionGroup struct {
	first, end int // blocks[first:end]
	heading    string
	summary    *Table
	more       func(omitted, total int) string
}

type docBlock struct {
	text  string
	table *Table
	// more is the note that replaces omitted rows, given the count omitted and the total.
	more func(omitted, total int) string
	// lastResort tables are collapsed only when collapsing every other table was not enough.
	lastResort bool
}

// NewBoundedDoc returns a document limited to limit bytes (bytes are never fewer than the
// characters GitHub counts).
func NewBoundedDoc(limit int) *BoundedDoc { return &BoundedDoc{limit: limit} }

// Text appends Markdown that is always kept.
func (d *BoundedDoc) Text(s string) { d.blocks = append(d.blocks, docBlock{text: s}) }

// Textf appends formatted Markdown that is always kept.
func (d *BoundedDoc) Textf(format string, args ...any) { d.Text(fmt.Sprintf(format, args...)) }

// Table appends a collapsible table. more returns the paragraph shown in place of omitted
// rows, e.g. "_412 more rows in run.json._"; it is called with omitted == total when the
// whole table is collapsed.
func (d *BoundedDoc) Table(t *Table, more func(omitted, total int) string) {
	d.blocks = append(d.blocks, docBlock{table: t, more: more})
}

// LastResortTable appends a collapsible table that keeps its rows until every other table
// has been collapsed (the failures of a run, say).
func (d *BoundedDoc) LastResortTable(t *Table, more func(omitted, total int) string) {
	d.blocks = append(d.blocks, docBlock{table: t, more: more, lastResort: true})
}

// BeginSections starts a group of sections: the text and tables appended until EndSections
// are shown as they are while they fit (collapsed like any others), and are replaced by
// heading (always kept) and summary, one row per section, when even collapsed they would
// not. The summary table is itself cut to fit, with more's note.
func (d *BoundedDoc) BeginSections(heading string, summary *Table, more func(omitted, total int) string) {
	d.EndSections()
	d.groups = append(d.groups, sectionGroup{first: len(d.blocks), heading: heading, summary: summary, more: more})
	d.open = len(d.groups)
}

// EndSections ends the group BeginSections started.
func (d *BoundedDoc) EndSections() {
	if d.open > 0 {
		d.groups[d.open-1].end = len(d.blocks)
		d.open = 0
	}
}

// String renders the document within the limit.
func (d *BoundedDoc) String() string {
	d.EndSections()
	return d.summarized().render()
}

// summarized returns the document with section groups replaced by their summary tables,
// largest group first, until the collapsed document fits (or no group is left).
func (d *BoundedDoc) summarized() *BoundedDoc {
	if len(d.groups) == 0 || d.minSize() <= d.limit {
		return d
	}
	order := make([]int, len(d.groups))
	for i := range order {
		order[i] = i
	}
	groupMin := func(g sectionGroup) int {
		n := 0
		for i := g.first; i < g.end; i++ {
			n += d.minBlockSize(i)
		}
		return n
	}
	sort.SliceStable(order, func(a, b int) bool { return groupMin(d.groups[order[a]]) > groupMin(d.groups[order[b]]) })
	replaced := make(map[int]bool)
	total := d.minSize()
	for _, gi := range order {
		if total <= d.limit {
			break
		}
		g := d.groups[gi]
		replaced[gi] = true
		sum := &BoundedDoc{limit: d.limit, blocks: []docBlock{{table: g.summary, more: g.more}}}
		total += len(g.heading) + sum.minBlockSize(0) + 1 - groupMin(g)
	}
	out := &BoundedDoc{limit: d.limit}
	for i := 0; i < len(d.blocks); {
		if gi, ok := d.groupAt(i); ok && replaced[gi] {
			g := d.groups[gi]
			out.blocks = append(out.blocks, docBlock{text: g.heading}, docBlock{table: g.summary, more: g.more}, docBlock{text: "\n"})
			i = g.end
			continue
		}
		out.blocks = append(out.blocks, d.blocks[i])
		i++
	}
	return out
}

// groupAt returns the group that starts at block i.
func (d *BoundedDoc) groupAt(i int) (int, bool) {
	for gi, g := range d.groups {
		if g.first == i && g.end > g.first {
			return gi, true
		}
	}
	return 0, false
}

// minSize is the document's size with every table collapsed.
func (d *BoundedDoc) minSize() int {
	n := 0
	for i := range d.blocks {
		n += d.minBlockSize(i)
	}
	return n
}

func (d *BoundedDoc) minBlockSize(i int) int {
	if d.blocks[i].table == nil {
		return len(d.blocks[i].text)
	}
	return d.blockSize(i, 0)
}

func (d *BoundedDoc) render() string {
	keep := make([]int, len(d.blocks)) // rows kept per table block
	total := 0
	var tables []int
	for i, b := range d.blocks {
		if b.table == nil {
			total += len(b.text)
			continue
		}
		keep[i] = b.table.Len()
		total += d.blockSize(i, keep[i])
		tables = append(tables, i)
	}
	if total > d.limit {
		// Largest first, last-resort tables after the rest; ties keep document order so the
		// result is deterministic.
		size := make(map[int]int, len(tables))
		for _, i := range tables {
			size[i] = d.blockSize(i, keep[i])
		}
		sort.SliceStable(tables, func(a, b int) bool {
			ra, rb := d.blocks[tables[a]].lastResort, d.blocks[tables[b]].lastResort
			if ra != rb {
				return rb
			}
			return size[tables[a]] > size[tables[b]]
		})
		for _, i := range tables {
			full := d.blockSize(i, keep[i])
			zero := d.blockSize(i, 0)
			if total-full+zero > d.limit {
				total += zero - full
				keep[i] = 0
				continue
			}
			// Collapsing this table fits: keep as many of its leading rows as still fit.
			n := sort.Search(keep[i], func(k int) bool {
				return total-full+d.blockSize(i, k+1) > d.limit
			})
			total += d.blockSize(i, n) - full
			keep[i] = n
			break
		}
	}
	var b strings.Builder
	for i, blk := range d.blocks {
		if blk.table == nil {
			b.WriteString(blk.text)
			continue
		}
		b.WriteString(d.renderTable(i, keep[i]))
	}
	s := b.String()
	if len(s) > d.limit {
		// Only text is left to cut; it never should be this long, but the limit is a promise.
		s = cutMiddle(s, d.limit)
	}
	return s
}

// cutNote marks where cutMiddle cut.
const cutNote = "\n\n_Part of this document was cut to fit a GitHub comment; the file it was made from has everything._\n\n"

// cutMiddle cuts s to limit bytes in the middle, at line ends, so the head (the outcome, the
// counts, the failures) and the tail (the digest, the apply command) are both kept. A line
// longer than a quarter of the room is first shortened itself, so one long line (an outcome
// naming every stale step) cannot push the head out.
func cutMiddle(s string, limit int) string {
	room := limit - len(cutNote)
	s = shortenLines(s, room/4)
	head := strings.LastIndexByte(s[:min(room/2, len(s))], '\n') + 1
	tailFrom := max(head, len(s)-(room-head))
	if tailFrom > head && s[tailFrom-1] != '\n' {
		if nl := strings.IndexByte(s[tailFrom:], '\n'); nl >= 0 {
			tailFrom += nl + 1
		} else {
			tailFrom = len(s)
		}
	}
	return s[:head] + cutNote + s[tailFrom:]
}

// shortenLines cuts every line of s longer than maxLen bytes to its first maxLen bytes (whole
// characters) and "…".
func shortenLines(s string, maxLen int) string {
	var b strings.Builder
	for line := range strings.SplitAfterSeq(s, "\n") {
		body := strings.TrimSuffix(line, "\n")
		if len(body) <= maxLen {
			b.WriteString(line)
			continue
		}
		b.WriteString(runecut.Prefix(body, maxLen))
		b.WriteString("…")
		b.WriteString(line[len(body):])
	}
	return b.String()
}

func (d *BoundedDoc) blockSize(i, rows int) int { return len(d.renderTable(i, rows)) }

// renderTable renders table block i with its first rows rows, followed by the omission note.
// Sizes are computed from the same rendering that is written, so the bound is exact.
func (d *BoundedDoc) renderTable(i, rows int) string {
	blk := d.blocks[i]
	t := blk.table
	var b strings.Builder
	if rows > 0 {
		b.WriteString(t.head())
		for r := 0; r < rows; r++ {
			b.WriteString(t.row(r))
		}
	}
	if omitted := t.Len() - rows; omitted > 0 && blk.more != nil {
		if rows > 0 {
			b.WriteString("\n")
		}
		b.WriteString(blk.more(omitted, t.Len()))
		b.WriteString("\n")
	}
	return b.String()
}
