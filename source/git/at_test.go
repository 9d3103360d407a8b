package git

import (
	"context"
	"strings"
	"testing"
)

func TestAt_anEarlierCommitWithoutNetwork(t *testing.T) {
	s := startHTTP(t, "", "")
	up, url := s.repo(t, "repo.git")
	c1 := up.commit("c1", map[string]string{"a": "1"}, nil)
	c := newTestClient(t, Options{URL: url, Ref: Reference{Branch: "main"}})
	first, _ := mustFetch(t, c, "")
	var last = first
	for _, v := range []string{"2", "3", "4"} {
		up.commit("c"+v, map[string]string{"a": v}, nil)
		last, _ = mustFetch(t, c, last.Revision)
	}
	s.counts()
	old, err := c.At(context.Background(), c1.String())
	if err != nil {
		t.Fatal(err)
	}
	if refs, packs := s.counts(); refs != 0 || packs != 0 {
		t.Errorf("At made %d ref listings and %d upload-packs, want none", refs, packs)
	}
	if readFile(t, old, "a") != "1" || old.Commit != c1.String() || old.Revision != "main@sha1:"+c1.String() {
		t.Errorf("At(c1) = %+v with a=%q", old, readFile(t, old, "a"))
	}
	// The fetched trees are pruned to the last two; the pinned one stays.
	up.commit("c5", map[string]string{"a": "5"}, nil)
	last, _ = mustFetch(t, c, last.Revision)
	up.commit("c6", map[string]string{"a": "6"}, nil)
	mustFetch(t, c, last.Revision)
	if readFile(t, old, "a") != "1" {
		t.Error("the pinned tree was pruned with the fetched ones")
	}

	// A new process's shallow clone lacks c1: At fetches it.
	fresh := newTestClient(t, Options{URL: url, Ref: Reference{Branch: "main"}})
	mustFetch(t, fresh, "")
	again, err := fresh.At(context.Background(), c1.String())
	if err != nil {
		t.Fatal(err)
	}
	if readFile(t, again, "a") != "1" {
		t.Errorf("At(c1) in a fresh cache: a=%q", readFile(t, again, "a"))
	}

	for _, bad := range []string{"main", strings.Repeat("0", 40), "../" + strings.Repeat("a", 37)} {
		if _, err := c.At(context.Background(), bad); err == nil {
			t.Errorf("At(%q) succeeded", bad)
		}
	}
}
