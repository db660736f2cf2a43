package provider

import (
	"errors"
	"testing"
)

func TestReadPagesEndsWhereEachAPIFormSaysTheReadIsComplete(t *testing.T) {
	tests := []struct {
		name    string
		answers []PageAnswer
		calls   int
		err     error
	}{
		{"a token API ends on an empty token", []PageAnswer{{Items: 100, Next: "a"}, {Items: 100, Next: "b"}, {Items: 3}}, 3, nil},
		{"a token API that repeats its token is an error, not a loop", []PageAnswer{{Items: 100, Next: "a"}, {Items: 100, Next: "a"}}, 2, ErrRepeatedToken},
		{"a numbered API ends on a short page", []PageAnswer{{Items: 100, Size: 100, Total: 999}, {Items: 7, Size: 100, Total: 999}}, 2, nil},
		{"a numbered API ends once the total is read", []PageAnswer{{Items: 100, Size: 100, Total: 200}, {Items: 100, Size: 100, Total: 200}}, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var seen []Page
			err := ReadPages(func(p Page) (PageAnswer, error) {
				seen = append(seen, p)
				if len(seen) > len(tc.answers) {
					t.Fatalf("page %d read past the end", p.Index)
				}
				return tc.answers[p.Index], nil
			})
			if len(seen) != tc.calls || !errors.Is(err, tc.err) {
				t.Errorf("%d calls, %v; want %d, %v", len(seen), err, tc.calls, tc.err)
			}
			for i, p := range seen {
				if p.Index != i || (i > 0 && p.Token != tc.answers[i-1].Next) {
					t.Errorf("page %d was asked as %+v", i, p)
				}
			}
		})
	}
}
