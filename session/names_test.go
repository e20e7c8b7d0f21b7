package session

import (
	"strings"
	"testing"
)

func TestCharMapSFM(t *testing.T) {
	m := MapSFM
	for _, c := range []struct{ local, wire string }{
		{"plain.txt", "plain.txt"},
		{"", ""},
		{"a:b", "a\uf022b"},
		{`"*:<>?\|`, "\uf020\uf021\uf022\uf023\uf024\uf025\uf026\uf027"},
		{"tab\there", "tab\uf009here"},
		{"dot.", "dot\uf029"},
		{"space ", "space\uf028"},
		{"...", "..\uf029"},
		{" lead. mid .x", " lead. mid .x"},
		{"12:30 ok?.", "12\uf02230 ok\uf025\uf029"},
		{"été", "été"},
	} {
		if got := m.toWire(c.local); got != c.wire {
			t.Errorf("toWire(%q) = %q, want %q", c.local, got, c.wire)
		}
		if got := m.fromWire(c.wire); got != c.local {
			t.Errorf("fromWire(%q) = %q, want %q", c.wire, got, c.local)
		}
	}
	// A mapped space or period inside a name is not ours: left alone.
	if got := m.fromWire("a\uf029b"); got != "a\uf029b" {
		t.Errorf("fromWire kept no inner U+F029: %q", got)
	}
	if got, want := m.wirePath("/d:1/e./f?"), "d\uf0221\\e\uf029\\f\uf025"; got != want {
		t.Errorf("wirePath = %q, want %q", got, want)
	}
	if got, want := MapNone.wirePath("/a/b:c/"), `a\b:c`; got != want {
		t.Errorf("MapNone.wirePath = %q, want %q", got, want)
	}
}

func TestCharMapSFU(t *testing.T) {
	m := MapSFU
	if got, want := m.toWire(`a:*?<>|"\. `), "a\uf03a\uf02a\uf03f\uf03c\uf03e\uf07c\"\\. "; got != want {
		t.Errorf("toWire = %q, want %q", got, want)
	}
	if got, want := m.fromWire("a\uf03ab\uf022"), "a:b\uf022"; got != want {
		t.Errorf("fromWire = %q, want %q", got, want)
	}
}

// FuzzCharMap checks the mapping of names a server sends back: no panic,
// and every name without private-use code points of its own survives a
// round trip, its mapped form free of what SMB forbids.
func FuzzCharMap(f *testing.F) {
	for _, s := range []string{"a:b", "dot.", "x\uf029", "\xef\x80", "\xef\x80\xa9", "tab\t ", "ok"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, m := range []CharMap{MapNone, MapSFM, MapSFU} {
			_ = m.fromWire(s)
		}
		if strings.ContainsAny(s, "/\x00") || strings.ContainsFunc(s, func(r rune) bool { return r >= 0xF000 && r <= 0xF0FF }) {
			return
		}
		w := MapSFM.toWire(s)
		if strings.ContainsAny(w, "\"*:<>?\\|") || strings.ContainsFunc(w, func(r rune) bool { return r < 0x20 }) ||
			strings.HasSuffix(w, ".") || strings.HasSuffix(w, " ") {
			t.Fatalf("toWire(%q) = %q keeps a character SMB forbids", s, w)
		}
		if got := MapSFM.fromWire(w); got != s {
			t.Fatalf("fromWire(toWire(%q)) = %q", s, got)
		}
		if got := MapSFU.fromWire(MapSFU.toWire(s)); got != s {
			t.Fatalf("SFU round trip of %q = %q", s, got)
		}
	})
}
