package smb2

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestMFSymlinkFixture(t *testing.T) {
	// MD5("hello") is 5d41402abc4b2a76b9719d911017c592.
	want := "XSym\n0005\n5d41402abc4b2a76b9719d911017c592\nhello\n"
	want += strings.Repeat(" ", MFSymlinkSize-len(want))
	got, err := EncodeMFSymlink("hello")
	if err != nil || string(got) != want {
		t.Fatalf("%q %v", got, err)
	}
	target, ok := DecodeMFSymlink([]byte(want))
	if !ok || target != "hello" {
		t.Errorf("%q %v", target, ok)
	}
}

func TestMFSymlinkRoundTrip(t *testing.T) {
	for _, target := range []string{"a", "../dir/ü file", "/abs/path", strings.Repeat("x", 1023), strings.Repeat("y", 1024)} {
		b, err := EncodeMFSymlink(target)
		if err != nil || len(b) != MFSymlinkSize {
			t.Fatalf("%d bytes: %d, %v", len(target), len(b), err)
		}
		if got, ok := DecodeMFSymlink(b); !ok || got != target {
			t.Errorf("%.20q: %.20q %v", target, got, ok)
		}
	}
	// A full-length target leaves no room for the newline.
	b, _ := EncodeMFSymlink(strings.Repeat("y", 1024))
	if b[len(b)-1] != 'y' {
		t.Error("1024-byte target followed by padding")
	}
	for _, target := range []string{"", strings.Repeat("z", 1025)} {
		if _, err := EncodeMFSymlink(target); !errors.Is(err, ErrMFSymlinkTarget) {
			t.Errorf("%d bytes: %v", len(target), err)
		}
	}
}

func TestMFSymlinkNotASymlink(t *testing.T) {
	good, _ := EncodeMFSymlink("target")
	mut := func(off int, c byte) []byte {
		b := bytes.Clone(good)
		b[off] = c
		return b
	}
	cases := map[string][]byte{
		"short file":      good[:MFSymlinkSize-1],
		"long file":       append(bytes.Clone(good), ' '),
		"magic":           mut(0, 'x'),
		"length digit":    mut(6, 'a'),
		"length mismatch": mut(8, '7'), // 0007: the MD5 covers a different span
		"zero length":     []byte(strings.Replace(string(good), "0006", "0000", 1)),
		"too long":        []byte(strings.Replace(string(good), "0006", "1025", 1)),
		"md5 changed":     mut(10, map[bool]byte{true: '1', false: '0'}[good[10] == '0']),
		"md5 not hex":     mut(11, 'g'),
		"target changed":  mut(43, 'T'),
		"separator":       mut(9, ' '),
	}
	for name, b := range cases {
		if _, ok := DecodeMFSymlink(b); ok {
			t.Errorf("%s: decoded", name)
		}
	}
	// Any content of the padding is accepted.
	if _, ok := DecodeMFSymlink(mut(MFSymlinkSize-1, 'Q')); !ok {
		t.Error("padding checked")
	}
	if _, ok := DecodeMFSymlink(make([]byte, MFSymlinkSize)); ok {
		t.Error("zeros decoded")
	}
}

func FuzzMFSymlink(f *testing.F) {
	b, _ := EncodeMFSymlink("some/target")
	f.Add(b)
	f.Add([]byte("XSym\n0001\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		target, ok := DecodeMFSymlink(b)
		if !ok {
			return
		}
		enc, err := EncodeMFSymlink(target)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if again, ok := DecodeMFSymlink(enc); !ok || again != target {
			t.Fatalf("re-decode %q: %q %v", target, again, ok)
		}
	})
}
