package smb2

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"unsafe"
)

// msgCodec is what every message body of this package implements.
type msgCodec interface {
	Size() int
	Append(b []byte) []byte
	Unmarshal(b []byte) error
}

// msgRoundTrip checks that Size equals the length Append adds, that Append
// appends to what it is given, and that Unmarshal of the encoding into out
// gives back in. It returns the encoding.
func msgRoundTrip(t *testing.T, in, out msgCodec) []byte {
	t.Helper()
	enc := in.Append(nil)
	if in.Size() != len(enc) {
		t.Errorf("%T: Size %d, Append gives %d bytes", in, in.Size(), len(enc))
	}
	if got := in.Append([]byte{0xAA, 0xBB}); !bytes.Equal(got[:2], []byte{0xAA, 0xBB}) || !bytes.Equal(got[2:], enc) {
		t.Errorf("%T: Append does not append", in)
	}
	if err := out.Unmarshal(enc[:len(enc):len(enc)]); err != nil {
		t.Fatalf("%T: Unmarshal of own encoding: %v\n% x", in, err, enc)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("%T: round trip\n%+v\ngives\n%+v", in, in, out)
	}
	return enc
}

// msgPrefixesFail checks that every prefix of enc shorter than minOK bytes
// fails to decode with an error wrapping ErrMalformed, without panicking.
// minOK <= 0 means every proper prefix. Each prefix is passed with its
// capacity cut to its length, so a read past it cannot go unnoticed.
func msgPrefixesFail(t *testing.T, name string, enc []byte, minOK int, dec func([]byte) error) {
	t.Helper()
	if minOK <= 0 || minOK > len(enc) {
		minOK = len(enc)
	}
	for n := 0; n < minOK; n++ {
		err := msgNoPanic(func() error { return dec(enc[:n:n]) })
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %d-byte prefix of %d: got %v, want ErrMalformed", name, n, len(enc), err)
		}
	}
}

// msgNoPanic runs f and turns a panic into an error that does not wrap
// ErrMalformed, so callers see it as a failure.
func msgNoPanic(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}

// msgWantMalformed fails unless err wraps ErrMalformed.
func msgWantMalformed(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("%s: got %v, want ErrMalformed", what, err)
	}
}

// msgWithin reports whether s, when not empty, lies inside in.
func msgWithin(in, s []byte) bool {
	if len(s) == 0 {
		return true
	}
	if len(in) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(in)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return p >= lo && p+uintptr(len(s)) <= lo+uintptr(len(in))
}

// msgBytes builds a hand-made fixture: a zeroed buffer of n bytes with
// little-endian values put at explicit offsets, so a fixture states the
// spec's layout independently of the encoder.
type msgBytes []byte

func msgBuf(n int) msgBytes { return make(msgBytes, n) }

func (b msgBytes) u8(off int, v uint8) msgBytes { b[off] = v; return b }
func (b msgBytes) u16(off int, v uint16) msgBytes {
	binary.LittleEndian.PutUint16(b[off:], v)
	return b
}
func (b msgBytes) u32(off int, v uint32) msgBytes {
	binary.LittleEndian.PutUint32(b[off:], v)
	return b
}
func (b msgBytes) u64(off int, v uint64) msgBytes {
	binary.LittleEndian.PutUint64(b[off:], v)
	return b
}
func (b msgBytes) put(off int, p []byte) msgBytes { copy(b[off:], p); return b }

// msgSeq returns n bytes counting up from start.
func msgSeq(start byte, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = start + byte(i)
	}
	return p
}

// msgGUID is a recognisable 16-byte value.
func msgGUID(start byte) (g [16]byte) {
	copy(g[:], msgSeq(start, 16))
	return g
}

// msgEqualBytes reports a difference between got and want with offsets.
func msgEqualBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	for i := 0; i < min(len(got), len(want)); i++ {
		if got[i] != want[i] {
			t.Errorf("%s: first difference at byte %d: got %#02x, want %#02x\ngot  % x\nwant % x", what, i, got[i], want[i], got, want)
			return
		}
	}
	t.Errorf("%s: %d bytes, want %d\ngot  % x\nwant % x", what, len(got), len(want), got, want)
}
