package smb2

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf8"
)

// Fixture builders shared by the information-class tests. Each appends
// little-endian fields by hand, independently of the codec under test.
type fxBuf []byte

func (f fxBuf) u8(v uint8) fxBuf   { return append(f, v) }
func (f fxBuf) u16(v uint16) fxBuf { return append(f, byte(v), byte(v>>8)) }
func (f fxBuf) u32(v uint32) fxBuf { return append(f, byte(v), byte(v>>8), byte(v>>16), byte(v>>24)) }
func (f fxBuf) u64(v uint64) fxBuf { return f.u32(uint32(v)).u32(uint32(v >> 32)) }
func (f fxBuf) raw(b ...byte) fxBuf {
	return append(f, b...)
}
func (f fxBuf) zeros(n int) fxBuf { return append(f, make([]byte, n)...) }

// ascii16 appends an ASCII string as UTF-16LE.
func (f fxBuf) ascii16(s string) fxBuf {
	for i := 0; i < len(s); i++ {
		f = append(f, s[i], 0)
	}
	return f
}

func TestUTF16RoundTrip(t *testing.T) {
	for _, s := range []string{
		"", "a", "dir\\file.txt", "héllo wörld", "日本語のファイル",
		"emoji 😀 and 𝄞", "\u0000inner\u0000nul", "\uFFFD", "\uE000\uFFFF",
	} {
		b := EncodeUTF16(s)
		if len(b) != UTF16Len(s) {
			t.Errorf("%q: UTF16Len %d, encoded %d", s, UTF16Len(s), len(b))
		}
		if got := AppendUTF16([]byte("xy"), s); !bytes.Equal(got[2:], b) || string(got[:2]) != "xy" {
			t.Errorf("%q: AppendUTF16 does not append", s)
		}
		got, err := DecodeUTF16(b)
		if err != nil || got != s {
			t.Errorf("%q: decoded %q, %v", s, got, err)
		}
	}
}

func TestUTF16Fixtures(t *testing.T) {
	// U+1D11E MUSICAL SYMBOL G CLEF is D834 DD1E.
	if got := EncodeUTF16("a\U0001D11E"); !bytes.Equal(got, []byte{'a', 0, 0x34, 0xD8, 0x1E, 0xDD}) {
		t.Errorf("surrogate pair: % x", got)
	}
	if got := EncodeUTF16("é"); !bytes.Equal(got, []byte{0xE9, 0}) {
		t.Errorf("é: % x", got)
	}
	// Invalid UTF-8 becomes U+FFFD.
	if got := EncodeUTF16("a\xffb"); !bytes.Equal(got, []byte{'a', 0, 0xFD, 0xFF, 'b', 0}) {
		t.Errorf("invalid utf-8: % x", got)
	}
}

func TestDecodeUTF16Malformed(t *testing.T) {
	if _, err := DecodeUTF16([]byte{'a', 0, 'b'}); !errors.Is(err, ErrMalformed) {
		t.Errorf("odd length: %v", err)
	}
	cases := []struct {
		in   []byte
		want string
	}{
		{[]byte{0x34, 0xD8}, "\uFFFD"},                          // lone high surrogate at the end
		{[]byte{0x1E, 0xDD, 'a', 0}, "\uFFFDa"},                 // lone low surrogate
		{[]byte{0x34, 0xD8, 'a', 0}, "\uFFFDa"},                 // high surrogate then a letter
		{[]byte{0x34, 0xD8, 0x34, 0xD8, 0x1E, 0xDD}, "\uFFFD𝄞"}, // high, then a valid pair
		{[]byte{0, 0}, "\x00"},                                  // NUL is kept
	}
	for _, c := range cases {
		got, err := DecodeUTF16(c.in)
		if err != nil || got != c.want {
			t.Errorf("% x: %q, %v; want %q", c.in, got, err, c.want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("% x: invalid UTF-8 result", c.in)
		}
	}
}

func TestDecodeUTF16Z(t *testing.T) {
	got, err := decodeUTF16Z(fxBuf{}.ascii16("abc").u16(0).ascii16("zz"))
	if err != nil || got != "abc" {
		t.Errorf("got %q, %v", got, err)
	}
	got, err = decodeUTF16Z(fxBuf{}.ascii16("abc"))
	if err != nil || got != "abc" {
		t.Errorf("no NUL: got %q, %v", got, err)
	}
}

func TestUTF16Allocs(t *testing.T) {
	ascii := EncodeUTF16("some_file_name.txt")
	wide := EncodeUTF16("ファイル😀.txt")
	for name, b := range map[string][]byte{"ascii": ascii, "wide": wide} {
		if n := testing.AllocsPerRun(100, func() { _, _ = DecodeUTF16(b) }); n > 1 {
			t.Errorf("%s: DecodeUTF16 allocates %v times", name, n)
		}
	}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { _ = AppendUTF16(buf[:0], "ファイル😀.txt") }); n != 0 {
		t.Errorf("AppendUTF16 into capacity allocates %v times", n)
	}
}

func FuzzDecodeUTF16(f *testing.F) {
	f.Add(EncodeUTF16("hello 😀"))
	f.Add([]byte{0x34, 0xD8})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeUTF16(b)
		if err != nil {
			if len(b)%2 == 0 {
				t.Fatalf("even length failed: %v", err)
			}
			return
		}
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 from % x", b)
		}
		// Re-encoding is lossless except for unpaired surrogates.
		if !bytes.ContainsRune([]byte(s), utf8.RuneError) && !bytes.Equal(EncodeUTF16(s), b) {
			t.Fatalf("round trip of % x gives % x", b, EncodeUTF16(s))
		}
	})
}
