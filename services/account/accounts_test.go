package account

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/store"
)

// Accounts walks every account in pages, in the byte order of the ids on
// both databases (upper case before "_" before lower case, whatever
// PostgreSQL's collation would say), each exactly once; AccountByEmail
// finds one by address as lookups compare them (ASCII letters in any case).
func TestAccountsPages(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		ids := []string{"b", "B", "_x", "a:1", "a.2", "Z@z", "9"}
		file := ""
		for i, id := range ids {
			file += `{"id":"` + id + `","email":"u` + string(rune('a'+i)) + `@example.org"}` + "\n"
		}
		e.runImport(t, file, ImportOptions{})
		want := slices.Clone(ids)
		slices.Sort(want) // Go compares strings bytewise
		var got []string
		after := ""
		for pages := 0; ; pages++ {
			if pages > len(ids) {
				t.Fatal("the pages never end")
			}
			page, err := e.p.Accounts(ctx, after, 3)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range page.Accounts {
				got = append(got, a.ID)
			}
			if page.NextAfter == "" {
				if len(page.Accounts) == 3 && len(got) < len(ids) {
					t.Fatal("a full page without a cursor before the end")
				}
				break
			}
			after = page.NextAfter
		}
		if !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		if page, _ := e.p.Accounts(ctx, "", 0); len(page.Accounts) != len(ids) || page.NextAfter != "" {
			t.Fatalf("the default page: got %d accounts, next %q", len(page.Accounts), page.NextAfter)
		}
		if page, _ := e.p.Accounts(ctx, "", len(ids)); page.NextAfter != "" {
			t.Fatalf("a page that holds the rest exactly says another follows (%q)", page.NextAfter)
		}
		info, err := e.p.AccountByEmail(ctx, "ub@EXAMPLE.org")
		if err != nil || info.ID != "B" {
			t.Fatalf("by address: got %+v, %v; want B", info, err)
		}
		if info, err := e.p.AccountByEmail(ctx, "UB@example.org"); err != nil || info.ID != "B" {
			t.Fatalf("ASCII letters of the local part in another case: got %+v, %v", info, err)
		}
		if _, err := e.p.AccountByEmail(ctx, "ub@example.com"); !errors.Is(err, ErrNoAccountForAddress) {
			t.Fatalf("another address: got %v", err)
		}
		for _, tc := range []struct {
			name, after string
			limit       int
			code        string
		}{
			{"a cursor that is no id", "a b", 10, "invalid_cursor"},
			{"a page too large", "", MaxPageSize + 1, "invalid_limit"},
			{"a negative page", "", -1, "invalid_limit"},
		} {
			_, err := e.p.Accounts(ctx, tc.after, tc.limit)
			mustProblem(t, tc.name, err, models.KindInvalid, tc.code, map[string]string{"invalid_cursor": "after", "invalid_limit": "limit"}[tc.code])
		}
	})
}
