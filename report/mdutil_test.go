package report

import (
	"fmt"
	"strings"
	"testing"
)

func TestCellKeepsTableShapeAndShowsTextLiterally(t *testing.T) {
	tests := []struct {
		name string
		in   string
		html string // the cell as GitHub renders it
	}{
		{"a pipe stays inside its cell", "a|b", "a|b"},
		{"angle brackets and ampersands show as text, not HTML", "<script>x & y</script>", "&lt;script&gt;x &amp; y&lt;/script&gt;"},
		{"a line break becomes <br> inside the cell", "first\nsecond\r\nthird", "first<br>second<br>third"},
		{"backticks and emphasis marks are not formatting", "*not* _em_ `code` [link](x)", "*not* _em_ `code` [link](x)"},
		{"control characters are dropped", "bell\a esc\x1b[31m nul\x00", "bell esc[31m nul"},
		{"quotes show as text", `say "hi" it's`, "say &quot;hi&quot; it's"},
		{"a backslash before a pipe does not open the cell", `a\|b`, `a\|b`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := NewTable("value", "next")
			tb.Add(Cell(tc.in), "after")
			tables, _ := gfmTables(t, tb.String())
			if len(tables) != 1 || len(tables[0].Rows) != 1 {
				t.Fatalf("want one table with one row, got %+v", tables)
			}
			row := tables[0].Rows[0]
			if len(row) != 2 || row[1] != "after" {
				t.Fatalf("the row lost its shape: %q", row)
			}
			if row[0] != tc.html {
				t.Errorf("cell renders as %q, want %q", row[0], tc.html)
			}
		})
	}
}

func TestCodeSpansSurvivePipesAndBackticks(t *testing.T) {
	tests := []struct {
		name, in, html string
	}{
		{"a plain id is a code span", "req-1", "<code>req-1</code>"},
		{"a pipe inside stays inside", "a|b", "<code>a|b</code>"},
		{"backticks inside lengthen the fence", "a`b", "<code>a`b</code>"},
		{"HTML inside is literal", "<b>", "<code>&lt;b&gt;</code>"},
		{"empty is empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := NewTable("id", "next")
			tb.Add(Code(tc.in), "after")
			tables, _ := gfmTables(t, tb.String())
			row := tables[0].Rows[0]
			if len(row) != 2 || row[0] != tc.html {
				t.Errorf("row = %q, want first cell %q", row, tc.html)
			}
		})
	}
}

func TestBoundedDocCollapsesTheLargestTableFirst(t *testing.T) {
	small := NewTable("n")
	for i := range 5 {
		small.Add(fmt.Sprint(i))
	}
	large := NewTable("n", "padding")
	for i := range 500 {
		large.Add(fmt.Sprint(i), strings.Repeat("x", 40))
	}
	more := func(name string) func(int, int) string {
		return func(omitted, total int) string {
			return fmt.Sprintf("_%s: %d of %d rows in run.json._", name, omitted, total)
		}
	}
	d := NewBoundedDoc(4000)
	d.Text("# title\n\n")
	d.Table(small, more("small"))
	d.Text("\n")
	d.Table(large, more("large"))
	out := d.String()
	if len(out) > 4000 {
		t.Fatalf("document is %d bytes, limit 4000", len(out))
	}
	tables, _ := gfmTables(t, out)
	requireRectangular(t, tables, out)
	if len(tables) != 2 || len(tables[0].Rows) != 5 {
		t.Fatalf("the small table should be intact: %d tables", len(tables))
	}
	kept := len(tables[1].Rows)
	if kept == 0 || kept == 500 {
		t.Fatalf("the large table should be cut, not dropped or kept whole: %d rows", kept)
	}
	if !strings.Contains(out, fmt.Sprintf("_large: %d of 500 rows in run.json._", 500-kept)) {
		t.Errorf("no note saying how many rows were left out:\n%s", out[len(out)-200:])
	}
}

func TestBoundedDocKeepsLastResortTablesUntilTheRestAreCollapsed(t *testing.T) {
	rows := func(n int) *Table {
		tb := NewTable("n", "padding")
		for i := range n {
			tb.Add(fmt.Sprint(i), strings.Repeat("y", 30))
		}
		return tb
	}
	note := func(omitted, total int) string { return fmt.Sprintf("_%d of %d omitted._", omitted, total) }
	tests := []struct {
		name                   string
		limit                  int
		lastResortRows, others int // rows kept; -1 means "some, but not all"
	}{
		{"the larger last-resort table stays whole while the other is cut", 3000, 60, -1},
		{"the other table goes entirely before the last-resort table is cut", 1500, -1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewBoundedDoc(tc.limit)
			d.LastResortTable(rows(60), note) // the failures: larger, but kept
			d.Text("\n")
			d.Table(rows(40), note)
			out := d.String()
			if len(out) > tc.limit {
				t.Fatalf("document is %d bytes, limit %d", len(out), tc.limit)
			}
			tables, _ := gfmTables(t, out)
			requireRectangular(t, tables, out)
			check := func(what string, got, want, total int) {
				if want == -1 && (got == 0 || got == total) || want >= 0 && got != want {
					t.Errorf("%s keeps %d rows, want %d (-1: some but not all of %d)", what, got, want, total)
				}
			}
			check("the last-resort table", len(tables[0].Rows), tc.lastResortRows, 60)
			other := 0
			if len(tables) > 1 {
				other = len(tables[1].Rows)
			}
			check("the other table", other, tc.others, 40)
		})
	}
}

func TestBoundedDocLeavesASmallDocumentAlone(t *testing.T) {
	tb := NewTable("a")
	tb.Add("1")
	d := NewBoundedDoc(CommentLimit)
	d.Text("x\n\n")
	d.Table(tb, func(int, int) string { return "omitted" })
	if got, want := d.String(), "x\n\n| a |\n|---|\n| 1 |\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
