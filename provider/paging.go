package provider

import "errors"

// Page is where one call of a paged read starts: Index counts pages from 0, Token is the
// previous answer's continuation token ("" for the first page and for APIs paged by
// number or offset).
type Page struct {
	Index int
	Token string
}

// PageAnswer is what one page said: how many items it held, and either the continuation
// token (APIs paged by token: "" means the last page) or, for APIs paged by number or
// offset, the page size asked for and the total the answer reported.
type PageAnswer struct {
	Items int
	// Token APIs.
	Next string
	// Number and offset APIs (Size > 0): the read ends on a short page or once Total
	// items have been read.
	Size  int
	Total int64
}

// ErrRepeatedToken is returned when an API hands back the token it was given, which would
// page forever.
var ErrRepeatedToken = errors.New("the API returned the same continuation token twice")

// ReadPages is the one paging loop of every provider: it calls read for page 0, 1, ...
// until the answer says the read is complete, and stops at the first error.
func ReadPages(read func(Page) (PageAnswer, error)) error {
	page := Page{}
	for {
		a, err := read(page)
		if err != nil {
			return err
		}
		if a.Size > 0 {
			if a.Items < a.Size || int64(page.Index+1)*int64(a.Size) >= a.Total {
				return nil
			}
		} else {
			if a.Next == "" {
				return nil
			}
			if a.Next == page.Token {
				return ErrRepeatedToken
			}
		}
		page = Page{Index: page.Index + 1, Token: a.Next}
	}
}
