package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
)

// parsedTable is a table as a GFM parser (goldmark, as GitHub's cmark-gfm) sees it: the
// header cells and each row's cells, as rendered HTML.
type parsedTable struct {
	Header []string
	Rows   [][]string
}

// gfmTables parses md as GitHub would and returns its tables, and the whole document as
// HTML. Raw HTML (<br>) is kept as GitHub keeps it.
func gfmTables(t *testing.T, md string) ([]parsedTable, string) {
	t.Helper()
	gm := goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(html.WithUnsafe()))
	src := []byte(md)
	doc := gm.Parser().Parse(text.NewReader(src))
	var tables []parsedTable
	cellHTML := func(n ast.Node) string {
		var b bytes.Buffer
		if err := gm.Renderer().Render(&b, src, n); err != nil {
			t.Fatalf("render cell: %v", err)
		}
		s := strings.TrimSpace(b.String())
		for _, tag := range []string{"th", "td"} {
			if strings.HasPrefix(s, "<"+tag) {
				s = s[strings.IndexByte(s, '>')+1:]
				s = strings.TrimSuffix(s, "</"+tag+">")
			}
		}
		return s
	}
	err := ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering || n.Kind() != east.KindTable {
			return ast.WalkContinue, nil
		}
		var pt parsedTable
		for r := n.FirstChild(); r != nil; r = r.NextSibling() {
			var cells []string
			for c := r.FirstChild(); c != nil; c = c.NextSibling() {
				cells = append(cells, cellHTML(c))
			}
			if r.Kind() == east.KindTableHeader {
				pt.Header = cells
			} else {
				pt.Rows = append(pt.Rows, cells)
			}
		}
		tables = append(tables, pt)
		return ast.WalkSkipChildren, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := gm.Convert(src, &out); err != nil {
		t.Fatal(err)
	}
	return tables, out.String()
}

// requireRectangular fails unless every row of every table has as many cells as its header
// and no cell swallowed a neighbour's delimiter.
func requireRectangular(t *testing.T, tables []parsedTable, md string) {
	t.Helper()
	if strings.Count(md, "\n|---") == 0 && len(tables) == 0 {
		return
	}
	// Each delimiter line in the source is one table the parser must have found.
	delims := 0
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "|---") || strings.HasPrefix(line, "|:---") {
			delims++
		}
	}
	if delims != len(tables) {
		t.Errorf("source has %d table delimiter lines but the GFM parser found %d tables", delims, len(tables))
	}
	for i, tb := range tables {
		for j, row := range tb.Rows {
			if len(row) != len(tb.Header) {
				t.Errorf("table %d (%v) row %d has %d cells, header has %d: %q", i, tb.Header, j, len(row), len(tb.Header), row)
			}
		}
	}
}
