package smb2

import (
	"errors"
	"testing"
)

func TestSymlinkErrorResponseFixture(t *testing.T) {
	in := &SymlinkErrorResponse{UnparsedPathLength: 10, SubstituteName: `\??\D:\t`, PrintName: `D:\t`, Flags: 0}
	// PathBuffer: 16 + 8 bytes; SymLinkLength excludes itself: 28 - 4 + 24.
	want := fxBuf{}.u32(48).u32(0x4C4D5953).u32(0xA000000C).u16(12 + 24).u16(10).
		u16(0).u16(16).u16(16).u16(8).u32(0).
		ascii16(`\??\D:\t`).ascii16(`D:\t`)
	checkInfoCodec(t, in, func() infoCodec { return new(SymlinkErrorResponse) }, want, 0)

	got, err := ParseSymlinkError(want, 0)
	if err != nil || *got != *in {
		t.Errorf("%+v %v", got, err)
	}
	// Padding after SymLinkLength is ignored.
	if _, err := ParseSymlinkError(append(want, 0, 0, 0, 0), 0); err != nil {
		t.Errorf("padded: %v", err)
	}
}

func TestSymlinkErrorContexts(t *testing.T) {
	in := &SymlinkErrorResponse{SubstituteName: "tgt", PrintName: "tgt", Flags: SymlinkFlagRelative}
	// A non-default context first (length 3, padded to 8), then the default one.
	data := fxBuf{}.u32(3).u32(0x72645253).raw(1, 2, 3).zeros(5)
	data = AppendSymlinkErrorContext(data, in)
	got, err := ParseSymlinkError(data, 2)
	if err != nil || *got != *in {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := ParseSymlinkError(data[:16], 2); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated second context: %v", err)
	}
	if _, err := ParseSymlinkError(data[:16], 1); !errors.Is(err, ErrNoSymlinkData) {
		t.Errorf("no default context: %v", err)
	}
	one := AppendSymlinkErrorContext(nil, in)
	for n := 1; n < len(one); n++ {
		if _, err := ParseSymlinkError(one[:n], 1); err == nil {
			t.Errorf("%d-byte prefix decoded", n)
		}
	}
	bad := fxBuf{}.u32(0xFFFFFFFF).u32(0).zeros(8)
	if _, err := ParseSymlinkError(bad, 1); !errors.Is(err, ErrMalformed) {
		t.Errorf("huge context: %v", err)
	}
}

func TestSymlinkErrorEmpty(t *testing.T) {
	for _, b := range [][]byte{nil, {0}} {
		if _, err := ParseSymlinkError(b, 0); !errors.Is(err, ErrNoSymlinkData) {
			t.Errorf("% x: %v", b, err)
		}
	}
}

func TestSymlinkErrorRejects(t *testing.T) {
	good := (&SymlinkErrorResponse{SubstituteName: "ab", PrintName: "ab"}).Append(nil)
	set32 := func(off int, v uint32) []byte {
		c := append([]byte(nil), good...)
		c[off], c[off+1], c[off+2], c[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		return c
	}
	set16 := func(off int, v uint16) []byte {
		c := append([]byte(nil), good...)
		c[off], c[off+1] = byte(v), byte(v>>8)
		return c
	}
	cases := map[string][]byte{
		"length beyond":     set32(0, uint32(len(good))),
		"length too small":  set32(0, 20),
		"huge length":       set32(0, 0xFFFFFFFF),
		"error tag":         set32(4, 0x12345678),
		"reparse tag":       set32(8, uint32(ReparseTagMountPoint)),
		"substitute beyond": set16(16, 8),
		"print beyond":      set16(22, 9),
		"odd print":         set16(22, 3),
		"names past length": set32(0, 24),
	}
	for name, b := range cases {
		if _, err := ParseSymlinkError(b, 0); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestSymlinkErrorSplitPath(t *testing.T) {
	cases := []struct {
		path       string
		unparsed   uint16
		link, rest string
		ok         bool
	}{
		{`a\link\b\c`, 8, `a\link`, `\b\c`, true},
		{`a\link`, 0, `a\link`, ``, true},
		{`link😀\x`, 4, `link😀`, `\x`, true},
		{`link😀\x`, 8, `link`, `😀\x`, true},
		{`link😀\x`, 6, ``, ``, false}, // inside the surrogate pair
		{`ab`, 6, ``, ``, false},      // longer than the path
		{`ab`, 3, ``, ``, false},      // odd
		{`ab`, 4, ``, `ab`, true},
	}
	for _, c := range cases {
		r := &SymlinkErrorResponse{UnparsedPathLength: c.unparsed}
		link, rest, err := r.SplitPath(c.path)
		if (err == nil) != c.ok || link != c.link || rest != c.rest {
			t.Errorf("%q/%d: %q %q %v", c.path, c.unparsed, link, rest, err)
		}
	}
}

func FuzzSymlinkErrorResponse(f *testing.F) {
	in := &SymlinkErrorResponse{UnparsedPathLength: 2, SubstituteName: "x", PrintName: "y"}
	f.Add(in.Append(nil), uint8(0))
	f.Add(AppendSymlinkErrorContext(nil, in), uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, count uint8) {
		r, err := ParseSymlinkError(b, count)
		if err != nil {
			return
		}
		again, err := ParseSymlinkError(r.Append(nil), 0)
		if err != nil || *again != *r {
			t.Fatalf("re-decode: %+v %v", again, err)
		}
		_, _, _ = r.SplitPath(r.SubstituteName)
	})
}
