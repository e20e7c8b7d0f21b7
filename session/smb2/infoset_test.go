package smb2

import (
	"bytes"
	"errors"
	"testing"
)

func TestFileRenameInformation(t *testing.T) {
	in := &FileRenameInformation{ReplaceIfExists: true, FileName: `dir\new name.txt`}
	want := fxBuf{}.raw(1).zeros(7).u64(0).u32(32).ascii16(`dir\new name.txt`).u16(0)
	// A trailing NUL and padding beyond the name may be cut and still decode.
	checkInfoCodec(t, in, func() infoCodec { return new(FileRenameInformation) }, want, 20+32)
	if in.InfoClass() != 10 {
		t.Error("class")
	}
}

func TestFileRenameInformationShortPadded(t *testing.T) {
	// A one-character name is padded to the 24 bytes Windows requires.
	in := &FileRenameInformation{FileName: "a"}
	want := fxBuf{}.raw(0).zeros(7).u64(0).u32(2).ascii16("a").u16(0)
	checkInfoCodec(t, in, func() infoCodec { return new(FileRenameInformation) }, want, 22)
	in = &FileRenameInformation{}
	want = fxBuf{}.zeros(8).u64(0).u32(0).zeros(4)
	checkInfoCodec(t, in, func() infoCodec { return new(FileRenameInformation) }, want, 20)
}

func TestFileLinkInformation(t *testing.T) {
	in := &FileLinkInformation{FileName: `a\b\ünï`}
	checkInfoCodec(t, in, func() infoCodec { return new(FileLinkInformation) }, nil, 20+UTF16Len(in.FileName))
	if in.InfoClass() != 11 {
		t.Error("class")
	}
	if err := new(FileLinkInformation).Unmarshal(fxBuf{}.zeros(16).u32(0xFFFFFFFE).zeros(8)); !errors.Is(err, ErrMalformed) {
		t.Errorf("huge name: %v", err)
	}
}

func TestSetInfoFixed(t *testing.T) {
	checkInfoCodec(t, &FileDispositionInformation{DeletePending: true},
		func() infoCodec { return new(FileDispositionInformation) }, []byte{1}, 0)
	checkInfoCodec(t, &FileDispositionInformationEx{Flags: DispositionDelete | DispositionPosixSemantics | DispositionIgnoreReadonlyAttribute},
		func() infoCodec { return new(FileDispositionInformationEx) }, fxBuf{}.u32(0x13), 0)
	checkInfoCodec(t, &FileEndOfFileInformation{EndOfFile: 1 << 40},
		func() infoCodec { return new(FileEndOfFileInformation) }, fxBuf{}.u64(1<<40), 0)
	checkInfoCodec(t, &FileAllocationInformation{AllocationSize: 65536},
		func() infoCodec { return new(FileAllocationInformation) }, fxBuf{}.u64(65536), 0)
	checkInfoCodec(t, &FileValidDataLengthInformation{ValidDataLength: 3},
		func() infoCodec { return new(FileValidDataLengthInformation) }, fxBuf{}.u64(3), 0)
	if s := (DispositionDelete | DispositionOnClose).String(); s != "DELETE|ON_CLOSE" {
		t.Error(s)
	}
}

func TestFileInfoInterface(t *testing.T) {
	infos := []FileInfo{
		&FileBasicInformation{}, &FileRenameInformation{FileName: "x"}, &FileLinkInformation{},
		&FileDispositionInformation{}, &FileDispositionInformationEx{}, &FileEndOfFileInformation{},
		&FileAllocationInformation{}, &FileValidDataLengthInformation{},
		SetEAs{{Name: "user.a", Value: []byte("v")}},
	}
	classes := []FileInfoClass{4, 10, 11, 13, 64, 20, 19, 39, 15}
	for i, fi := range infos {
		if fi.InfoClass() != classes[i] {
			t.Errorf("%T: class %v", fi, fi.InfoClass())
		}
		if b := fi.Append(nil); len(b) != fi.Size() {
			t.Errorf("%T: Size %d, len %d", fi, fi.Size(), len(b))
		}
	}
	s := SetEAs{{Name: "a", Value: []byte("1")}, {Name: "bb"}}
	if !bytes.Equal(s.Append(nil), AppendEAList(nil, s)) {
		t.Error("SetEAs differs from AppendEAList")
	}
}
