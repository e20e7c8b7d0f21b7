package smb2

import "fmt"

// FsInfoClass is a file system information class ([MS-FSCC] 2.5), used
// with InfoTypeFilesystem.
type FsInfoClass uint8

const (
	FileFsVolumeInformationClass      FsInfoClass = 1
	FileFsLabelInformationClass       FsInfoClass = 2
	FileFsSizeInformationClass        FsInfoClass = 3
	FileFsDeviceInformationClass      FsInfoClass = 4
	FileFsAttributeInformationClass   FsInfoClass = 5
	FileFsControlInformationClass     FsInfoClass = 6
	FileFsFullSizeInformationClass    FsInfoClass = 7
	FileFsObjectIdInformationClass    FsInfoClass = 8
	FileFsDriverPathInformationClass  FsInfoClass = 9
	FileFsVolumeFlagsInformationClass FsInfoClass = 10
	FileFsSectorSizeInformationClass  FsInfoClass = 11
)

var fsInfoClassNames = [...]string{
	1: "FileFsVolumeInformation", 2: "FileFsLabelInformation",
	3: "FileFsSizeInformation", 4: "FileFsDeviceInformation",
	5: "FileFsAttributeInformation", 6: "FileFsControlInformation",
	7: "FileFsFullSizeInformation", 8: "FileFsObjectIdInformation",
	9: "FileFsDriverPathInformation", 10: "FileFsVolumeFlagsInformation",
	11: "FileFsSectorSizeInformation",
}

func (c FsInfoClass) String() string {
	if int(c) < len(fsInfoClassNames) && fsInfoClassNames[c] != "" {
		return fsInfoClassNames[c]
	}
	return fmt.Sprintf("FsInfoClass(%d)", uint8(c))
}

// FileFsVolumeInformation describes the volume ([MS-FSCC] 2.5
// FileFsVolumeInformation).
type FileFsVolumeInformation struct {
	VolumeCreationTime uint64
	VolumeSerialNumber uint32
	SupportsObjects    bool
	VolumeLabel        string
}

// fsVolumeFixed is VolumeCreationTime (8), VolumeSerialNumber (4),
// VolumeLabelLength (4), SupportsObjects (1), Reserved (1).
const fsVolumeFixed = 18

func (*FileFsVolumeInformation) FsInfoClass() FsInfoClass { return FileFsVolumeInformationClass }

// Size is the encoded size.
func (i *FileFsVolumeInformation) Size() int { return fsVolumeFixed + UTF16Len(i.VolumeLabel) }

// Append appends the structure.
func (i *FileFsVolumeInformation) Append(b []byte) []byte {
	b = ap64(b, i.VolumeCreationTime)
	b = ap32(b, i.VolumeSerialNumber)
	b = ap32(b, uint32(UTF16Len(i.VolumeLabel)))
	b = append(b, infoBool(i.SupportsObjects), 0)
	return AppendUTF16(b, i.VolumeLabel)
}

// Unmarshal decodes the structure.
func (i *FileFsVolumeInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FileFsVolumeInformation", b, fsVolumeFixed); err != nil {
		return err
	}
	n := le32(b[12:])
	if uint64(n) > uint64(len(b)-fsVolumeFixed) {
		return malformed("FileFsVolumeInformation: label of %d bytes in %d", n, len(b)-fsVolumeFixed)
	}
	label, err := DecodeUTF16(b[fsVolumeFixed : fsVolumeFixed+n])
	if err != nil {
		return err
	}
	i.VolumeCreationTime = le64(b)
	i.VolumeSerialNumber = le32(b[8:])
	i.SupportsObjects = b[16] != 0
	i.VolumeLabel = label
	return nil
}

// FileFsSizeInformation gives the volume size in allocation units
// ([MS-FSCC] 2.5 FileFsSizeInformation).
type FileFsSizeInformation struct {
	TotalAllocationUnits     uint64
	AvailableAllocationUnits uint64
	SectorsPerAllocationUnit uint32
	BytesPerSector           uint32
}

func (*FileFsSizeInformation) FsInfoClass() FsInfoClass { return FileFsSizeInformationClass }

// Size is the encoded size.
func (*FileFsSizeInformation) Size() int { return 24 }

// Append appends the structure.
func (i *FileFsSizeInformation) Append(b []byte) []byte {
	b = ap64(b, i.TotalAllocationUnits)
	b = ap64(b, i.AvailableAllocationUnits)
	b = ap32(b, i.SectorsPerAllocationUnit)
	return ap32(b, i.BytesPerSector)
}

// Unmarshal decodes the structure.
func (i *FileFsSizeInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FileFsSizeInformation", b, 24); err != nil {
		return err
	}
	i.TotalAllocationUnits = le64(b)
	i.AvailableAllocationUnits = le64(b[8:])
	i.SectorsPerAllocationUnit = le32(b[16:])
	i.BytesPerSector = le32(b[20:])
	return nil
}

// Device types and characteristics of FileFsDeviceInformation.
const (
	FileDeviceCDROM                      uint32 = 0x00000002
	FileDeviceDisk                       uint32 = 0x00000007
	FileRemovableMedia                   uint32 = 0x00000001
	FileReadOnlyDevice                   uint32 = 0x00000002
	FileFloppyDiskette                   uint32 = 0x00000004
	FileWriteOnceMedia                   uint32 = 0x00000008
	FileRemoteDevice                     uint32 = 0x00000010
	FileDeviceIsMounted                  uint32 = 0x00000020
	FileVirtualVolume                    uint32 = 0x00000040
	FileDeviceSecureOpen                 uint32 = 0x00000100
	FileCharacteristicTSDevice           uint32 = 0x00001000
	FileCharacteristicWebDAVDevice       uint32 = 0x00002000
	FileDeviceAllowAppContainerTraversal uint32 = 0x00020000
	FilePortableDevice                   uint32 = 0x00040000
)

// FileFsDeviceInformation describes the device ([MS-FSCC] 2.5
// FileFsDeviceInformation).
type FileFsDeviceInformation struct {
	DeviceType      uint32
	Characteristics uint32
}

func (*FileFsDeviceInformation) FsInfoClass() FsInfoClass { return FileFsDeviceInformationClass }

// Size is the encoded size.
func (*FileFsDeviceInformation) Size() int { return 8 }

// Append appends the structure.
func (i *FileFsDeviceInformation) Append(b []byte) []byte {
	return ap32(ap32(b, i.DeviceType), i.Characteristics)
}

// Unmarshal decodes the structure.
func (i *FileFsDeviceInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FileFsDeviceInformation", b, 8); err != nil {
		return err
	}
	i.DeviceType, i.Characteristics = le32(b), le32(b[4:])
	return nil
}

// FsAttributes are the FileSystemAttributes of FileFsAttributeInformation
// ([MS-FSCC] 2.5 FileFsAttributeInformation).
type FsAttributes uint32

const (
	FileCaseSensitiveSearch        FsAttributes = 0x00000001
	FileCasePreservedNames         FsAttributes = 0x00000002
	FileUnicodeOnDisk              FsAttributes = 0x00000004
	FilePersistentACLs             FsAttributes = 0x00000008
	FileFileCompression            FsAttributes = 0x00000010
	FileVolumeQuotas               FsAttributes = 0x00000020
	FileSupportsSparseFiles        FsAttributes = 0x00000040
	FileSupportsReparsePoints      FsAttributes = 0x00000080
	FileSupportsRemoteStorage      FsAttributes = 0x00000100
	FileVolumeIsCompressed         FsAttributes = 0x00008000
	FileSupportsObjectIDs          FsAttributes = 0x00010000
	FileSupportsEncryption         FsAttributes = 0x00020000
	FileNamedStreams               FsAttributes = 0x00040000
	FileReadOnlyVolume             FsAttributes = 0x00080000
	FileSequentialWriteOnce        FsAttributes = 0x00100000
	FileSupportsTransactions       FsAttributes = 0x00200000
	FileSupportsHardLinks          FsAttributes = 0x00400000
	FileSupportsExtendedAttributes FsAttributes = 0x00800000
	FileSupportsOpenByFileID       FsAttributes = 0x01000000
	FileSupportsUSNJournal         FsAttributes = 0x02000000
	FileSupportIntegrityStreams    FsAttributes = 0x04000000
	FileSupportsBlockRefcounting   FsAttributes = 0x08000000
	FileSupportsSparseVDL          FsAttributes = 0x10000000
	FileDAXVolume                  FsAttributes = 0x20000000
	FileSupportsGhosting           FsAttributes = 0x40000000
)

var fsAttributeNames = []infoFlagName{
	{0x00000001, "CASE_SENSITIVE_SEARCH"}, {0x00000002, "CASE_PRESERVED_NAMES"},
	{0x00000004, "UNICODE_ON_DISK"}, {0x00000008, "PERSISTENT_ACLS"},
	{0x00000010, "FILE_COMPRESSION"}, {0x00000020, "VOLUME_QUOTAS"},
	{0x00000040, "SUPPORTS_SPARSE_FILES"}, {0x00000080, "SUPPORTS_REPARSE_POINTS"},
	{0x00000100, "SUPPORTS_REMOTE_STORAGE"}, {0x00008000, "VOLUME_IS_COMPRESSED"},
	{0x00010000, "SUPPORTS_OBJECT_IDS"}, {0x00020000, "SUPPORTS_ENCRYPTION"},
	{0x00040000, "NAMED_STREAMS"}, {0x00080000, "READ_ONLY_VOLUME"},
	{0x00100000, "SEQUENTIAL_WRITE_ONCE"}, {0x00200000, "SUPPORTS_TRANSACTIONS"},
	{0x00400000, "SUPPORTS_HARD_LINKS"}, {0x00800000, "SUPPORTS_EXTENDED_ATTRIBUTES"},
	{0x01000000, "SUPPORTS_OPEN_BY_FILE_ID"}, {0x02000000, "SUPPORTS_USN_JOURNAL"},
	{0x04000000, "SUPPORT_INTEGRITY_STREAMS"}, {0x08000000, "SUPPORTS_BLOCK_REFCOUNTING"},
	{0x10000000, "SUPPORTS_SPARSE_VDL"}, {0x20000000, "DAX_VOLUME"},
	{0x40000000, "SUPPORTS_GHOSTING"},
}

func (a FsAttributes) String() string { return infoFlagString(uint32(a), fsAttributeNames) }

// FileFsAttributeInformation describes the file system ([MS-FSCC] 2.5
// FileFsAttributeInformation): its capabilities, the longest name
// component, and its name ("NTFS", "ext4", ...).
type FileFsAttributeInformation struct {
	Attributes                 FsAttributes
	MaximumComponentNameLength int32 // in characters; > 0
	FileSystemName             string
}

func (*FileFsAttributeInformation) FsInfoClass() FsInfoClass {
	return FileFsAttributeInformationClass
}

// Size is the encoded size.
func (i *FileFsAttributeInformation) Size() int { return 12 + UTF16Len(i.FileSystemName) }

// Append appends the structure.
func (i *FileFsAttributeInformation) Append(b []byte) []byte {
	b = ap32(b, uint32(i.Attributes))
	b = ap32(b, uint32(i.MaximumComponentNameLength))
	b = ap32(b, uint32(UTF16Len(i.FileSystemName)))
	return AppendUTF16(b, i.FileSystemName)
}

// Unmarshal decodes the structure. A server may truncate the name to the
// output buffer and answer STATUS_BUFFER_OVERFLOW; Unmarshal then fails.
func (i *FileFsAttributeInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FileFsAttributeInformation", b, 12); err != nil {
		return err
	}
	n := le32(b[8:])
	if uint64(n) > uint64(len(b)-12) {
		return malformed("FileFsAttributeInformation: name of %d bytes in %d", n, len(b)-12)
	}
	name, err := DecodeUTF16(b[12 : 12+n])
	if err != nil {
		return err
	}
	i.Attributes = FsAttributes(le32(b))
	i.MaximumComponentNameLength = int32(le32(b[4:]))
	i.FileSystemName = name
	return nil
}

// FileFsFullSizeInformation gives the volume size in allocation units, and
// what the caller's quota leaves of it ([MS-FSCC] 2.5
// FileFsFullSizeInformation): what statfs wants.
type FileFsFullSizeInformation struct {
	TotalAllocationUnits           uint64
	CallerAvailableAllocationUnits uint64
	ActualAvailableAllocationUnits uint64
	SectorsPerAllocationUnit       uint32
	BytesPerSector                 uint32
}

func (*FileFsFullSizeInformation) FsInfoClass() FsInfoClass { return FileFsFullSizeInformationClass }

// Size is the encoded size.
func (*FileFsFullSizeInformation) Size() int { return 32 }

// Append appends the structure.
func (i *FileFsFullSizeInformation) Append(b []byte) []byte {
	b = ap64(b, i.TotalAllocationUnits)
	b = ap64(b, i.CallerAvailableAllocationUnits)
	b = ap64(b, i.ActualAvailableAllocationUnits)
	b = ap32(b, i.SectorsPerAllocationUnit)
	return ap32(b, i.BytesPerSector)
}

// Unmarshal decodes the structure.
func (i *FileFsFullSizeInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FileFsFullSizeInformation", b, 32); err != nil {
		return err
	}
	i.TotalAllocationUnits = le64(b)
	i.CallerAvailableAllocationUnits = le64(b[8:])
	i.ActualAvailableAllocationUnits = le64(b[16:])
	i.SectorsPerAllocationUnit = le32(b[24:])
	i.BytesPerSector = le32(b[28:])
	return nil
}

// FileFsObjectIdInformation holds the volume's object ID ([MS-FSCC] 2.5
// FileFsObjectIdInformation).
type FileFsObjectIdInformation struct {
	ObjectID     [16]byte
	ExtendedInfo [48]byte
}

func (*FileFsObjectIdInformation) FsInfoClass() FsInfoClass { return FileFsObjectIdInformationClass }

// Size is the encoded size.
func (*FileFsObjectIdInformation) Size() int { return 64 }

// Append appends the structure.
func (i *FileFsObjectIdInformation) Append(b []byte) []byte {
	return append(append(b, i.ObjectID[:]...), i.ExtendedInfo[:]...)
}

// Unmarshal decodes the structure.
func (i *FileFsObjectIdInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FileFsObjectIdInformation", b, 64); err != nil {
		return err
	}
	copy(i.ObjectID[:], b[:16])
	copy(i.ExtendedInfo[:], b[16:64])
	return nil
}

// Flags of FileFsSectorSizeInformation.
const (
	SSInfoFlagsAlignedDevice            uint32 = 0x00000001
	SSInfoFlagsPartitionAlignedOnDevice uint32 = 0x00000002
	SSInfoFlagsNoSeekPenalty            uint32 = 0x00000004
	SSInfoFlagsTrimEnabled              uint32 = 0x00000008
)

// FileFsSectorSizeInformation gives the logical and physical sector sizes
// ([MS-FSCC] 2.5 FileFsSectorSizeInformation).
type FileFsSectorSizeInformation struct {
	LogicalBytesPerSector                                 uint32
	PhysicalBytesPerSectorForAtomicity                    uint32
	PhysicalBytesPerSectorForPerformance                  uint32
	FileSystemEffectivePhysicalBytesPerSectorForAtomicity uint32
	Flags                                                 uint32
	ByteOffsetForSectorAlignment                          uint32
	ByteOffsetForPartitionAlignment                       uint32
}

func (*FileFsSectorSizeInformation) FsInfoClass() FsInfoClass {
	return FileFsSectorSizeInformationClass
}

// Size is the encoded size.
func (*FileFsSectorSizeInformation) Size() int { return 28 }

// Append appends the structure.
func (i *FileFsSectorSizeInformation) Append(b []byte) []byte {
	b = ap32(b, i.LogicalBytesPerSector)
	b = ap32(b, i.PhysicalBytesPerSectorForAtomicity)
	b = ap32(b, i.PhysicalBytesPerSectorForPerformance)
	b = ap32(b, i.FileSystemEffectivePhysicalBytesPerSectorForAtomicity)
	b = ap32(b, i.Flags)
	b = ap32(b, i.ByteOffsetForSectorAlignment)
	return ap32(b, i.ByteOffsetForPartitionAlignment)
}

// Unmarshal decodes the structure.
func (i *FileFsSectorSizeInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FileFsSectorSizeInformation", b, 28); err != nil {
		return err
	}
	i.LogicalBytesPerSector = le32(b)
	i.PhysicalBytesPerSectorForAtomicity = le32(b[4:])
	i.PhysicalBytesPerSectorForPerformance = le32(b[8:])
	i.FileSystemEffectivePhysicalBytesPerSectorForAtomicity = le32(b[12:])
	i.Flags = le32(b[16:])
	i.ByteOffsetForSectorAlignment = le32(b[20:])
	i.ByteOffsetForPartitionAlignment = le32(b[24:])
	return nil
}
