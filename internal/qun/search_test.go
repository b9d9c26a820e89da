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

// TestKeyGramFindsEveryMatch: whenever a text contains a keyword, the
// keyword's KeyGram is among the text's grams, so a store that looks up by
// it misses no chat.
func TestKeyGramFindsEveryMatch(t *testing.T) {
	texts := []string{"测试群名称", "weekly 周会\nwoche", "100%_done", "aa", "Team42"}
	for _, text := range texts {
		lower := SearchText(Chat{Name: text})
		r := []rune(lower)
		for i := range r {
			for j := i + 1; j <= len(r); j++ {
				key := string(r[i:j])
				g := KeyGram(SearchKey(key))
				if strings.Contains(key, "\n") {
					continue // no keyword spans two names
				}
				if !slices.Contains(SearchGrams(lower), g) {
					t.Errorf("%q contains %q, but its grams lack KeyGram %q", lower, key, g)
				}
			}
		}
	}
	if KeyGram("a") != "a" || KeyGram("") != "" || KeyGram("AB") != "AB" || KeyGram(SearchKey("AB")) != "ab" {
		t.Error("KeyGram of short keys")
	}
}
