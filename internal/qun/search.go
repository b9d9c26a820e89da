package qun

import (
	"slices"
	"strings"
)

// Keyword search is the core's, so that every store matches the same
// chats: a chat matches a keyword when its search text (SearchText)
// contains the keyword lower-cased (SearchKey), as a plain substring — no
// wildcard, so `%` and `_` are literal.
//
// Stores find the candidates through an index of the text's grams
// (SearchGrams: every character and every pair of adjacent characters): a
// keyword occurs only in texts that hold each of its grams (KeyGrams: its
// pairs of adjacent characters, or its only character), so a store reads
// the chats posted under any one of them, the rarest it can find, and
// checks the substring on those. Pairs rather than trigrams because
// Chinese group names are two to four characters and one- and
// two-character keywords are the common case, which a trigram index cannot
// serve.

// SearchText is what keyword search matches: the chat's name and
// localised names, lower-cased, one per line.
func SearchText(c Chat) string {
	n := c.I18nNames
	return strings.ToLower(strings.Join([]string{c.Name, n.ZhCN, n.EnUS, n.JaJP}, "\n"))
}

// SearchKey is the keyword as SearchText is matched against it.
func SearchKey(keyword string) string { return strings.ToLower(keyword) }

// SearchGrams returns the distinct grams of a search text, sorted: each
// character, and each two adjacent characters of one line.
func SearchGrams(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		r := []rune(line)
		for i := range r {
			out = append(out, string(r[i]))
			if i+1 < len(r) {
				out = append(out, string(r[i:i+2]))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// GramChanges returns the postings a change of a chat's search text from
// old to text removes and adds: the grams only old has, and those only
// text has, each sorted. A store deletes a chat's postings by these (its
// grams index needs no second index by chat) and leaves the rest alone.
func GramChanges(old, text string) (drop, add []string) {
	was, is := SearchGrams(old), SearchGrams(text)
	for len(was) > 0 || len(is) > 0 {
		switch {
		case len(is) == 0 || len(was) > 0 && was[0] < is[0]:
			drop, was = append(drop, was[0]), was[1:]
		case len(was) == 0 || is[0] < was[0]:
			add, is = append(add, is[0]), is[1:]
		default:
			was, is = was[1:], is[1:]
		}
	}
	return drop, add
}

// KeyGrams are the grams a store may look a keyword up by (any one of
// them holds every match): its pairs of adjacent characters, in order, or
// its only character; none for an empty keyword.
func KeyGrams(key string) []string {
	r := []rune(key)
	if len(r) == 1 {
		return []string{key}
	}
	var out []string
	for i := 0; i+1 < len(r); i++ {
		out = append(out, string(r[i:i+2]))
	}
	return out
}
