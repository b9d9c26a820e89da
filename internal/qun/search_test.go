package qun

import (
	"slices"
	"strings"
	"testing"
)

func TestSearchGrams(t *testing.T) {
	for _, c := range []struct {
		text string
		want []string
	}{
		{"", nil},
		{"a", []string{"a"}},
		{"测试群", []string{"测", "测试", "群", "试", "试群"}},
		{"abab", []string{"a", "ab", "b", "ba"}},
		{"周会\nwe", []string{"e", "w", "we", "会", "周", "周会"}},
		{"100%_", []string{"%", "%_", "0", "0%", "00", "1", "10", "_"}},
	} {
		if got := SearchGrams(c.text); !slices.Equal(got, c.want) {
			t.Errorf("SearchGrams(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}

func TestGramChanges(t *testing.T) {
	for _, c := range []struct {
		old, text string
		drop, add []string
	}{
		{"", "", nil, nil},
		{"", "ab", nil, []string{"a", "ab", "b"}},
		{"ab", "", []string{"a", "ab", "b"}, nil},
		{"ab", "ab", nil, nil},
		{"ab", "abc", nil, []string{"bc", "c"}},
		{"周会", "周报", []string{"会", "周会"}, []string{"周报", "报"}},
		{"ab\nx", "ba", []string{"ab", "x"}, []string{"ba"}},
	} {
		drop, add := GramChanges(c.old, c.text)
		if !slices.Equal(drop, c.drop) || !slices.Equal(add, c.add) {
			t.Errorf("GramChanges(%q, %q) = %q, %q; want %q, %q", c.old, c.text, drop, add, c.drop, c.add)
		}
		// Applying the changes to old's postings gives text's.
		got := slices.DeleteFunc(SearchGrams(c.old), func(g string) bool { return slices.Contains(drop, g) })
		got = append(got, add...)
		slices.Sort(got)
		if want := SearchGrams(c.text); !slices.Equal(got, want) {
			t.Errorf("GramChanges(%q, %q) applied = %q, want %q", c.old, c.text, got, want)
		}
	}
}

// TestKeyGramsFindEveryMatch: whenever a text contains a keyword, every
// one of the keyword's KeyGrams is among the text's grams, so a store that
// looks up by any of them misses no chat.
func TestKeyGramsFindEveryMatch(t *testing.T) {
	texts := []string{"测试群名称", "weekly 周会\nwoche", "100%_done", "aa", "Team42"}
	for _, text := range texts {
		lower := SearchText(Chat{Name: text})
		r := []rune(lower)
		for i := range r {
			for j := i + 1; j <= len(r); j++ {
				key := string(r[i:j])
				if strings.Contains(key, "\n") {
					continue // no keyword spans two names
				}
				grams := KeyGrams(SearchKey(key))
				if len(grams) == 0 {
					t.Errorf("KeyGrams(%q) is empty", key)
				}
				for _, g := range grams {
					if !slices.Contains(SearchGrams(lower), g) {
						t.Errorf("%q contains %q, but its grams lack %q", lower, key, g)
					}
				}
			}
		}
	}
	if !slices.Equal(KeyGrams("a"), []string{"a"}) || KeyGrams("") != nil || !slices.Equal(KeyGrams(SearchKey("ABC")), []string{"ab", "bc"}) {
		t.Error("KeyGrams of short keys")
	}
}
