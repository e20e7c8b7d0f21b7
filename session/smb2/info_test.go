package smb2

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// infoCodec is what every information structure of this package implements.
type infoCodec interface {
	Size() int
	Append(b []byte) []byte
	Unmarshal(b []byte) error
}

// checkInfoCodec checks Size against Append, that Append appends, the
// round trip through a fresh value, an exact fixture when want is not nil,
// and that every prefix shorter than minOK bytes fails with ErrMalformed
// (minOK 0 means the whole encoding).
func checkInfoCodec(t *testing.T, in infoCodec, fresh func() infoCodec, want []byte, minOK int) {
	t.Helper()
	enc := in.Append(nil)
	if in.Size() != len(enc) {
		t.Errorf("%T: Size %d, Append gives %d bytes", in, in.Size(), len(enc))
	}
	if got := in.Append([]byte{0xAA}); got[0] != 0xAA || !bytes.Equal(got[1:], enc) {
		t.Errorf("%T: Append does not append", in)
	}
	if want != nil && !bytes.Equal(enc, want) {
		t.Errorf("%T: encoded\n% x\nwant\n% x", in, enc, want)
	}
	out := fresh()
	if err := out.Unmarshal(enc); err != nil {
		t.Fatalf("%T: Unmarshal: %v", in, err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("%T: round trip\n%+v\ngives\n%+v", in, in, out)
	}
	if minOK == 0 {
		minOK = len(enc)
	}
	for n := 0; n < minOK; n++ {
		if err := fresh().Unmarshal(enc[:n:n]); !errors.Is(err, ErrMalformed) {
			t.Errorf("%T: %d-byte prefix of %d: %v", in, n, len(enc), err)
		}
	}
}

func TestFileBasicInformation(t *testing.T) {
	in := &FileBasicInformation{
		CreationTime: 0x0102030405060708, LastAccessTime: FiletimeSuspend,
		LastWriteTime: 0, ChangeTime: 0x1122334455667788,
		FileAttributes: FileAttributeReadonly | FileAttributeArchive,
	}
	want := fxBuf{}.u64(0x0102030405060708).u64(^uint64(0)).u64(0).u64(0x1122334455667788).
		u32(0x21).u32(0)
	checkInfoCodec(t, in, func() infoCodec { return new(FileBasicInformation) }, want, 0)
	if in.InfoClass() != 4 {
		t.Error("class")
	}
}

func TestFileStandardInformation(t *testing.T) {
	in := &FileStandardInformation{AllocationSize: 4096, EndOfFile: 1234, NumberOfLinks: 2, Directory: true}
	want := fxBuf{}.u64(4096).u64(1234).u32(2).raw(0, 1, 0, 0)
	checkInfoCodec(t, in, func() infoCodec { return new(FileStandardInformation) }, want, 0)
}

func TestSmallFileInformation(t *testing.T) {
	checkInfoCodec(t, &FileInternalInformation{IndexNumber: 0xDEADBEEF12345678},
		func() infoCodec { return new(FileInternalInformation) }, fxBuf{}.u64(0xDEADBEEF12345678), 0)
	checkInfoCodec(t, &FileEaInformation{EaSize: 77},
		func() infoCodec { return new(FileEaInformation) }, fxBuf{}.u32(77), 0)
	checkInfoCodec(t, &FileAccessInformation{AccessFlags: 0x001F01FF},
		func() infoCodec { return new(FileAccessInformation) }, fxBuf{}.u32(0x001F01FF), 0)
	checkInfoCodec(t, &FilePositionInformation{CurrentByteOffset: 99},
		func() infoCodec { return new(FilePositionInformation) }, fxBuf{}.u64(99), 0)
	checkInfoCodec(t, &FileModeInformation{Mode: 2},
		func() infoCodec { return new(FileModeInformation) }, fxBuf{}.u32(2), 0)
	checkInfoCodec(t, &FileAlignmentInformation{AlignmentRequirement: 1},
		func() infoCodec { return new(FileAlignmentInformation) }, fxBuf{}.u32(1), 0)
	checkInfoCodec(t, &FileAttributeTagInformation{FileAttributes: FileAttributeReparsePoint, ReparseTag: ReparseTagSymlink},
		func() infoCodec { return new(FileAttributeTagInformation) }, fxBuf{}.u32(0x400).u32(0xA000000C), 0)
	checkInfoCodec(t, &FileCompressionInformation{CompressedFileSize: 5, CompressionFormat: 2, CompressionUnitShift: 16, ChunkShift: 12, ClusterShift: 12},
		func() infoCodec { return new(FileCompressionInformation) }, fxBuf{}.u64(5).u16(2).raw(16, 12, 12, 0, 0, 0), 0)
}

func TestFileNameInformation(t *testing.T) {
	in := &FileNameInformation{FileName: `\dir\file.txt`}
	want := fxBuf{}.u32(26).ascii16(`\dir\file.txt`)
	checkInfoCodec(t, in, func() infoCodec { return new(FileNameInformation) }, want, 0)
	// An odd name length is malformed.
	if err := new(FileNameInformation).Unmarshal(fxBuf{}.u32(3).raw(1, 2, 3)); !errors.Is(err, ErrMalformed) {
		t.Errorf("odd name: %v", err)
	}
	// A huge length does not overflow.
	if err := new(FileNameInformation).Unmarshal(fxBuf{}.u32(0xFFFFFFFF).raw(1, 2)); !errors.Is(err, ErrMalformed) {
		t.Errorf("huge name: %v", err)
	}
}

func sampleAllInformation() *FileAllInformation {
	return &FileAllInformation{
		Basic:     FileBasicInformation{1, 2, 3, 4, FileAttributeDirectory},
		Standard:  FileStandardInformation{AllocationSize: 8192, EndOfFile: 5000, NumberOfLinks: 1, DeletePending: true},
		Internal:  FileInternalInformation{IndexNumber: 42},
		Ea:        FileEaInformation{EaSize: 8},
		Access:    FileAccessInformation{AccessFlags: 0x80},
		Position:  FilePositionInformation{CurrentByteOffset: 12},
		Mode:      FileModeInformation{Mode: 0x20},
		Alignment: FileAlignmentInformation{AlignmentRequirement: 0},
		Name:      FileNameInformation{FileName: `\share\ä`},
	}
}

func TestFileAllInformation(t *testing.T) {
	in := sampleAllInformation()
	want := fxBuf{}.u64(1).u64(2).u64(3).u64(4).u32(0x10).u32(0)  // basic, 40
	want = want.u64(8192).u64(5000).u32(1).raw(1, 0, 0, 0)        // standard, 24
	want = want.u64(42).u32(8).u32(0x80).u64(12).u32(0x20).u32(0) // internal..alignment, 32
	want = want.u32(16).ascii16(`\share\`).raw(0xE4, 0)           // name
	checkInfoCodec(t, in, func() infoCodec { return new(FileAllInformation) }, want, 0)
	if FileAllInformationFixedSize != len(want)-16 {
		t.Errorf("fixed size %d", FileAllInformationFixedSize)
	}
}

func TestFileNetworkOpenInformation(t *testing.T) {
	in := &FileNetworkOpenInformation{10, 20, 30, 40, 4096, 100, FileAttributeArchive}
	want := fxBuf{}.u64(10).u64(20).u64(30).u64(40).u64(4096).u64(100).u32(0x20).u32(0)
	checkInfoCodec(t, in, func() infoCodec { return new(FileNetworkOpenInformation) }, want, 0)
}

func TestLongerBuffersAccepted(t *testing.T) {
	// Servers may return more than the structure; the excess is ignored.
	b := append(fxBuf{}.u64(7), 0xFF, 0xFF)
	var i FileInternalInformation
	if err := i.Unmarshal(b); err != nil || i.IndexNumber != 7 {
		t.Errorf("%+v %v", i, err)
	}
}

func TestStreamInformation(t *testing.T) {
	streams := []StreamInfo{
		{Name: "::$DATA", Size: 100, AllocationSize: 4096},
		{Name: ":x:$DATA", Size: 3, AllocationSize: 8},
	}
	enc := AppendStreamInformation(nil, streams)
	// First entry: 24 + 14 = 38, padded to 40.
	want := fxBuf{}.u32(40).u32(14).u64(100).u64(4096).ascii16("::$DATA").zeros(2).
		u32(0).u32(16).u64(3).u64(8).ascii16(":x:$DATA")
	if !bytes.Equal(enc, want) {
		t.Fatalf("encoded\n% x\nwant\n% x", enc, want)
	}
	got, err := ParseStreamInformation(enc)
	if err != nil || !reflect.DeepEqual(got, streams) {
		t.Fatalf("%+v %v", got, err)
	}
	for n := 1; n < len(enc); n++ {
		if _, err := ParseStreamInformation(enc[:n]); !errors.Is(err, ErrMalformed) {
			t.Errorf("%d-byte prefix: %v", n, err)
		}
	}
	if got, err := ParseStreamInformation(nil); err != nil || len(got) != 0 {
		t.Errorf("empty: %v %v", got, err)
	}
}

func TestInfoWalkRejects(t *testing.T) {
	entry := fxBuf{}.u32(0).u32(0).u64(0).u64(0) // a 24-byte stream entry, empty name
	cases := map[string][]byte{
		"next too small":    fxBuf{}.u32(8).zeros(20).raw(entry...),
		"next beyond":       fxBuf{}.u32(200).zeros(20).raw(entry...),
		"next to the end":   fxBuf{}.u32(48).zeros(20).raw(entry...),
		"next huge":         fxBuf{}.u32(0xFFFFFFF8).zeros(20).raw(entry...),
		"short last entry":  fxBuf{}.u32(24).zeros(20).raw(entry[:23]...),
		"name beyond entry": fxBuf{}.u32(24).u32(2).zeros(16).raw(entry...),
	}
	for name, b := range cases {
		if _, err := ParseStreamInformation(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Unaligned but forward offsets are tolerated.
	ok := fxBuf{}.u32(26).u32(2).u64(1).u64(1).ascii16("a").raw(entry...)
	if got, err := ParseStreamInformation(ok); err != nil || len(got) != 2 {
		t.Errorf("unaligned: %v %v", got, err)
	}
}

func TestInfoStrings(t *testing.T) {
	if s := (FileAttributeDirectory | FileAttributeReparsePoint | 0x80000000).String(); s != "DIRECTORY|REPARSE_POINT|0x80000000" {
		t.Error(s)
	}
	if s := FileAttributes(0).String(); s != "0" {
		t.Error(s)
	}
	if s := FileIdBothDirectoryInformationClass.String(); s != "FileIdBothDirectoryInformation" {
		t.Error(s)
	}
	if s := FileInfoClass(200).String(); s != "FileInfoClass(200)" {
		t.Error(s)
	}
	if s := InfoTypeQuota.String(); s != "QUOTA" {
		t.Error(s)
	}
	if s := InfoType(9).String(); !strings.HasPrefix(s, "InfoType(") {
		t.Error(s)
	}
	for c, name := range fileInfoClassNames {
		if !strings.HasPrefix(name, "File") || c.String() != name {
			t.Errorf("%d: %q", c, name)
		}
	}
}

func FuzzFileAllInformation(f *testing.F) {
	f.Add(sampleAllInformation().Append(nil))
	f.Add(make([]byte, 100))
	f.Fuzz(func(t *testing.T, b []byte) {
		var a FileAllInformation
		if err := a.Unmarshal(b); err != nil {
			return
		}
		// What decodes re-encodes to a prefix of the input, up to the
		// reserved fields and the name, which may have been lossy.
		var again FileAllInformation
		if err := again.Unmarshal(a.Append(nil)); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if again.Basic != a.Basic || again.Standard != a.Standard || again.Internal != a.Internal {
			t.Fatal("fixed parts changed")
		}
	})
}

func FuzzParseStreamInformation(f *testing.F) {
	f.Add(AppendStreamInformation(nil, []StreamInfo{{Name: "::$DATA", Size: 1}, {Name: ":a:$DATA"}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStreamInformation(b)
		if err != nil {
			return
		}
		if _, err := ParseStreamInformation(AppendStreamInformation(nil, s)); err != nil {
			t.Fatalf("re-parse: %v", err)
		}
	})
}
