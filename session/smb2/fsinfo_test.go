package smb2

import (
	"errors"
	"testing"
)

func TestFileFsVolumeInformation(t *testing.T) {
	in := &FileFsVolumeInformation{VolumeCreationTime: 0x01D0000000000000, VolumeSerialNumber: 0xCAFEBABE, SupportsObjects: true, VolumeLabel: "DATA"}
	want := fxBuf{}.u64(0x01D0000000000000).u32(0xCAFEBABE).u32(8).raw(1, 0).ascii16("DATA")
	checkInfoCodec(t, in, func() infoCodec { return new(FileFsVolumeInformation) }, want, 0)
	checkInfoCodec(t, &FileFsVolumeInformation{}, func() infoCodec { return new(FileFsVolumeInformation) }, nil, 0)
}

func TestFileFsSizeInformation(t *testing.T) {
	in := &FileFsSizeInformation{TotalAllocationUnits: 1000, AvailableAllocationUnits: 250, SectorsPerAllocationUnit: 8, BytesPerSector: 512}
	want := fxBuf{}.u64(1000).u64(250).u32(8).u32(512)
	checkInfoCodec(t, in, func() infoCodec { return new(FileFsSizeInformation) }, want, 0)
}

func TestFileFsFullSizeInformation(t *testing.T) {
	in := &FileFsFullSizeInformation{TotalAllocationUnits: 1 << 30, CallerAvailableAllocationUnits: 100, ActualAvailableAllocationUnits: 200, SectorsPerAllocationUnit: 1, BytesPerSector: 4096}
	want := fxBuf{}.u64(1 << 30).u64(100).u64(200).u32(1).u32(4096)
	checkInfoCodec(t, in, func() infoCodec { return new(FileFsFullSizeInformation) }, want, 0)
}

func TestFileFsDeviceInformation(t *testing.T) {
	in := &FileFsDeviceInformation{DeviceType: FileDeviceDisk, Characteristics: FileRemoteDevice | FileDeviceIsMounted}
	checkInfoCodec(t, in, func() infoCodec { return new(FileFsDeviceInformation) }, fxBuf{}.u32(7).u32(0x30), 0)
}

func TestFileFsAttributeInformation(t *testing.T) {
	in := &FileFsAttributeInformation{
		Attributes:                 FileCaseSensitiveSearch | FileCasePreservedNames | FileUnicodeOnDisk | FilePersistentACLs | FileSupportsReparsePoints | FileNamedStreams,
		MaximumComponentNameLength: 255,
		FileSystemName:             "NTFS",
	}
	want := fxBuf{}.u32(0x4008F).u32(255).u32(8).ascii16("NTFS")
	checkInfoCodec(t, in, func() infoCodec { return new(FileFsAttributeInformation) }, want, 0)
	if s := in.Attributes.String(); s != "CASE_SENSITIVE_SEARCH|CASE_PRESERVED_NAMES|UNICODE_ON_DISK|PERSISTENT_ACLS|SUPPORTS_REPARSE_POINTS|NAMED_STREAMS" {
		t.Error(s)
	}
	// A name truncated by STATUS_BUFFER_OVERFLOW does not decode.
	if err := new(FileFsAttributeInformation).Unmarshal(want[:16]); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated: %v", err)
	}
}

func TestFileFsObjectIdAndSectorSize(t *testing.T) {
	in := &FileFsObjectIdInformation{}
	for i := range in.ObjectID {
		in.ObjectID[i] = byte(i)
	}
	in.ExtendedInfo[47] = 0xEE
	checkInfoCodec(t, in, func() infoCodec { return new(FileFsObjectIdInformation) }, nil, 0)
	ss := &FileFsSectorSizeInformation{512, 4096, 4096, 4096, SSInfoFlagsAlignedDevice | SSInfoFlagsNoSeekPenalty, 0, 0}
	want := fxBuf{}.u32(512).u32(4096).u32(4096).u32(4096).u32(5).u32(0).u32(0)
	checkInfoCodec(t, ss, func() infoCodec { return new(FileFsSectorSizeInformation) }, want, 0)
}

func TestFsInfoClasses(t *testing.T) {
	cases := map[FsInfoClass]interface{ FsInfoClass() FsInfoClass }{
		1: &FileFsVolumeInformation{}, 3: &FileFsSizeInformation{}, 4: &FileFsDeviceInformation{},
		5: &FileFsAttributeInformation{}, 7: &FileFsFullSizeInformation{}, 8: &FileFsObjectIdInformation{},
		11: &FileFsSectorSizeInformation{},
	}
	for c, v := range cases {
		if v.FsInfoClass() != c {
			t.Errorf("%T: %v", v, v.FsInfoClass())
		}
	}
	if s := FileFsFullSizeInformationClass.String(); s != "FileFsFullSizeInformation" {
		t.Error(s)
	}
	if s := FsInfoClass(0).String(); s != "FsInfoClass(0)" {
		t.Error(s)
	}
	if s := FsInfoClass(99).String(); s != "FsInfoClass(99)" {
		t.Error(s)
	}
}

func FuzzFsAttribute(f *testing.F) {
	f.Add((&FileFsAttributeInformation{Attributes: 0x8F, MaximumComponentNameLength: 255, FileSystemName: "ext4"}).Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		var a FileFsAttributeInformation
		if err := a.Unmarshal(b); err != nil {
			return
		}
		var again FileFsAttributeInformation
		if err := again.Unmarshal(a.Append(nil)); err != nil || again.Attributes != a.Attributes {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

func FuzzFsVolume(f *testing.F) {
	f.Add((&FileFsVolumeInformation{VolumeSerialNumber: 1, VolumeLabel: "label"}).Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		var v FileFsVolumeInformation
		if err := v.Unmarshal(b); err != nil {
			return
		}
		if err := new(FileFsVolumeInformation).Unmarshal(v.Append(nil)); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
	})
}
