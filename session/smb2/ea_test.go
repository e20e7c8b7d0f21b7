package smb2

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestEAListFixture(t *testing.T) {
	eas := []EA{
		{Name: "user.mime", Value: []byte("text/plain"), Flags: 0},
		{Name: "X", Value: nil, Flags: EAFlagNeedEA},
	}
	// Entry 1: 8 + 9 + 1 + 10 = 28 (aligned). Entry 2: 8 + 1 + 1 = 10, last, unpadded.
	want := fxBuf{}.u32(28).u8(0).u8(9).u16(10).raw([]byte("user.mime")...).u8(0).raw([]byte("text/plain")...).
		u32(0).u8(0x80).u8(1).u16(0).raw('X', 0)
	enc := AppendEAList(nil, eas)
	if !bytes.Equal(enc, want) {
		t.Fatalf("encoded\n% x\nwant\n% x", enc, want)
	}
	if EAListSize(eas) != len(enc) {
		t.Errorf("EAListSize %d, len %d", EAListSize(eas), len(enc))
	}
	got, err := ParseEAList(want)
	if err != nil || !reflect.DeepEqual(got, eas) {
		t.Fatalf("%+v %v", got, err)
	}
}

func TestEAListRoundTripAndPrefixes(t *testing.T) {
	eas := []EA{
		{Name: "a", Value: []byte{1}},
		{Name: "bb", Value: []byte{1, 2}},
		{Name: "ccc", Value: bytes.Repeat([]byte{7}, 300)},
		{Name: strings.Repeat("n", 255), Value: bytes.Repeat([]byte{9}, 65535)},
	}
	enc := AppendEAList([]byte{0xEE}, eas)[1:]
	if len(enc) != EAListSize(eas) {
		t.Errorf("size %d vs %d", len(enc), EAListSize(eas))
	}
	got, err := ParseEAList(enc)
	if err != nil || !reflect.DeepEqual(got, eas) {
		t.Fatalf("round trip: %v", err)
	}
	// Every entry starts on a 4-byte boundary.
	for off := 0; ; {
		if off%4 != 0 {
			t.Errorf("entry at %d", off)
		}
		next := int(le32(enc[off:]))
		if next == 0 {
			break
		}
		off += next
	}
	for n := 1; n < len(enc); n += 1 + n/64 {
		if _, err := ParseEAList(enc[:n]); !errors.Is(err, ErrMalformed) {
			t.Errorf("%d-byte prefix: %v", n, err)
		}
	}
	if got, err := ParseEAList(nil); err != nil || got != nil {
		t.Errorf("empty: %v %v", got, err)
	}
}

func TestParseEAListRejects(t *testing.T) {
	cases := map[string][]byte{
		"value beyond":       fxBuf{}.u32(0).u8(0).u8(1).u16(5).raw('a', 0, 1),
		"name beyond":        fxBuf{}.u32(0).u8(0).u8(10).u16(0).raw('a', 0),
		"no NUL room":        fxBuf{}.u32(0).u8(0).u8(2).u16(0).raw('a', 'b'),
		"entry beyond next":  fxBuf{}.u32(12).u8(0).u8(4).u16(4).raw([]byte("abcd\x00wxyz")...).zeros(2).u32(0).u8(0).u8(1).u16(0).raw('a', 0),
		"next to the end":    fxBuf{}.u32(12).u8(0).u8(1).u16(0).raw('a', 0).zeros(2),
		"next inside header": fxBuf{}.u32(4).u8(0).u8(1).u16(0).raw('a', 0).zeros(2).u32(0).u8(0).u8(1).u16(0).raw('a', 0),
		"short header":       fxBuf{}.u32(0).u8(0).u8(1),
	}
	for name, b := range cases {
		if _, err := ParseEAList(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestValidateEA(t *testing.T) {
	bad := []EA{
		{Name: ""},
		{Name: strings.Repeat("x", 256)},
		{Name: "a\x00b"},
		{Name: "big", Value: make([]byte, 65536)},
	}
	for _, e := range bad {
		if ValidateEA(e.Name, e.Value) == nil {
			t.Errorf("%.20q (%d-byte value) accepted", e.Name, len(e.Value))
		}
		if ValidateEAList([]EA{{Name: "ok"}, e}) == nil {
			t.Error("list accepted")
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%.20q: AppendEAList did not panic", e.Name)
				}
			}()
			AppendEAList(nil, []EA{e})
		}()
	}
}

func TestGetEAList(t *testing.T) {
	names := []string{"user.a", "b", "longer.name"}
	enc := AppendGetEAList(nil, names)
	// 5 + 6 + 1 = 12; 5 + 1 + 1 = 7 -> 8; 5 + 11 + 1 = 17, last.
	want := fxBuf{}.u32(12).u8(6).raw([]byte("user.a\x00")...).
		u32(8).u8(1).raw('b', 0).zeros(1).
		u32(0).u8(11).raw([]byte("longer.name\x00")...)
	if !bytes.Equal(enc, want) {
		t.Fatalf("encoded\n% x\nwant\n% x", enc, want)
	}
	if GetEAListSize(names) != len(enc) {
		t.Errorf("size %d vs %d", GetEAListSize(names), len(enc))
	}
	got, err := ParseGetEAList(enc)
	if err != nil || !reflect.DeepEqual(got, names) {
		t.Fatalf("%v %v", got, err)
	}
	for n := 1; n < len(enc); n++ {
		if _, err := ParseGetEAList(enc[:n]); !errors.Is(err, ErrMalformed) {
			t.Errorf("%d-byte prefix: %v", n, err)
		}
	}
}

func FuzzParseEAList(f *testing.F) {
	f.Add(AppendEAList(nil, []EA{{Name: "user.x", Value: []byte("1")}, {Name: "y", Flags: 0x80}}))
	f.Add(AppendGetEAList(nil, []string{"a", "bc"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if names, err := ParseGetEAList(b); err == nil {
			for _, n := range names {
				_ = ValidateEA(n, nil)
			}
		}
		eas, err := ParseEAList(b)
		if err != nil {
			return
		}
		if ValidateEAList(eas) != nil {
			return // e.g. an empty name or one with a NUL: decodable, not encodable
		}
		again, err := ParseEAList(AppendEAList(nil, eas))
		if err != nil || len(again) != len(eas) {
			t.Fatalf("re-parse: %v", err)
		}
		for i := range eas {
			if again[i].Name != eas[i].Name || !bytes.Equal(again[i].Value, eas[i].Value) || again[i].Flags != eas[i].Flags {
				t.Fatalf("entry %d changed", i)
			}
		}
	})
}
