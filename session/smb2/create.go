package smb2

// Access mask bits ([MS-SMB2] 2.2.13.1).
const (
	FileReadData        uint32 = 0x00000001
	FileListDirectory   uint32 = 0x00000001
	FileWriteData       uint32 = 0x00000002
	FileAddFile         uint32 = 0x00000002
	FileAppendData      uint32 = 0x00000004
	FileAddSubdirectory uint32 = 0x00000004
	FileReadEA          uint32 = 0x00000008
	FileWriteEA         uint32 = 0x00000010
	FileExecute         uint32 = 0x00000020
	FileTraverse        uint32 = 0x00000020
	FileDeleteChild     uint32 = 0x00000040
	FileReadAttributes  uint32 = 0x00000080
	FileWriteAttributes uint32 = 0x00000100
	Delete              uint32 = 0x00010000
	ReadControl         uint32 = 0x00020000
	WriteDAC            uint32 = 0x00040000
	WriteOwner          uint32 = 0x00080000
	Synchronize         uint32 = 0x00100000
	MaximumAllowed      uint32 = 0x02000000
	GenericAll          uint32 = 0x10000000
	GenericExecute      uint32 = 0x20000000
	GenericWrite        uint32 = 0x40000000
	GenericRead         uint32 = 0x80000000
)

// Share access ([MS-SMB2] 2.2.13).
const (
	ShareRead   uint32 = 0x1
	ShareWrite  uint32 = 0x2
	ShareDelete uint32 = 0x4
	ShareAll           = ShareRead | ShareWrite | ShareDelete
)

// CreateDisposition ([MS-SMB2] 2.2.13).
const (
	FileSupersede   uint32 = 0
	FileOpen        uint32 = 1
	FileCreate      uint32 = 2
	FileOpenIf      uint32 = 3
	FileOverwrite   uint32 = 4
	FileOverwriteIf uint32 = 5
)

// CreateOptions ([MS-SMB2] 2.2.13).
const (
	FileDirectoryFile           uint32 = 0x00000001
	FileWriteThrough            uint32 = 0x00000002
	FileSequentialOnly          uint32 = 0x00000004
	FileNoIntermediateBuffering uint32 = 0x00000008
	FileNonDirectoryFile        uint32 = 0x00000040
	FileNoEAKnowledge           uint32 = 0x00000200
	FileRandomAccess            uint32 = 0x00000800
	FileDeleteOnClose           uint32 = 0x00001000
	FileOpenForBackupIntent     uint32 = 0x00004000
	FileOpenReparsePoint        uint32 = 0x00200000
)

// CreateAction values ([MS-SMB2] 2.2.14).
const (
	FileSuperseded  uint32 = 0
	FileOpened      uint32 = 1
	FileCreated     uint32 = 2
	FileOverwritten uint32 = 3
)

// Oplock levels ([MS-SMB2] 2.2.13).
const (
	OplockNone      uint8 = 0x00
	OplockII        uint8 = 0x01
	OplockExclusive uint8 = 0x08
	OplockBatch     uint8 = 0x09
	OplockLease     uint8 = 0xFF
)

// ImpersonationLevel Impersonation ([MS-SMB2] 2.2.13).
const ImpersonationImpersonation uint32 = 2

// Create context names ([MS-SMB2] 2.2.13.2).
const (
	CtxNameMaximalAccess  = "MxAc"
	CtxNameQueryOnDiskID  = "QFid"
	CtxNameLease          = "RqLs"
	CtxNameDurableV2      = "DH2Q"
	CtxNameDurableV2Recon = "DH2C"
	CtxNameEABuffer       = "ExtA"
	CtxNameTimewarp       = "TWrp"
)

// CreateContext is one create context: a name and its data ([MS-SMB2] 2.2.13.2).
type CreateContext struct {
	Name string
	Data []byte
}

func createContextsSize(ctxs []CreateContext) int {
	n := 0
	for i, c := range ctxs {
		sz := 16 + pad8(len(c.Name)) + len(c.Data)
		if i < len(ctxs)-1 {
			sz = pad8(sz)
		}
		n += sz
	}
	return n
}

func appendCreateContexts(b []byte, ctxs []CreateContext) []byte {
	for i, c := range ctxs {
		start := len(b)
		dataOff := 16 + pad8(len(c.Name))
		sz := dataOff + len(c.Data)
		next := 0
		if i < len(ctxs)-1 {
			next = pad8(sz)
		}
		b = ap32(b, uint32(next))
		b = ap16(b, 16)
		b = ap16(b, uint16(len(c.Name)))
		b = ap16(b, 0)
		if len(c.Data) > 0 {
			b = ap16(b, uint16(dataOff))
		} else {
			b = ap16(b, 0)
		}
		b = ap32(b, uint32(len(c.Data)))
		b = append(b, c.Name...)
		b = appendZeros(b, dataOff-(len(b)-start))
		b = append(b, c.Data...)
		if next > 0 {
			b = appendZeros(b, next-sz)
		}
	}
	return b
}

// ParseCreateContexts decodes a chain of create contexts.
func ParseCreateContexts(b []byte) ([]CreateContext, error) {
	var out []CreateContext
	for off := 0; ; {
		c := b[off:]
		if len(c) < 16 {
			return nil, malformed("create context: %d bytes", len(c))
		}
		// Lengths are compared as uint64: DataLength is 32 bits and must
		// not wrap an int on 32-bit platforms.
		next := uint64(le32(c))
		no, nl := uint64(le16(c[4:])), uint64(le16(c[6:]))
		do, dl := uint64(le16(c[10:])), uint64(le32(c[12:]))
		lim := uint64(len(c))
		if next != 0 {
			if next < 16 || next > lim {
				return nil, malformed("create context: next %d", next)
			}
			lim = next
		}
		if no+nl > lim || (nl > 0 && no < 16) || (dl > 0 && (do < 16 || do+dl > lim)) {
			return nil, malformed("create context: fields beyond entry")
		}
		cc := CreateContext{Name: string(c[no : no+nl])}
		if dl > 0 {
			cc.Data = c[do : do+dl]
		}
		out = append(out, cc)
		if next == 0 {
			return out, nil
		}
		off += int(next)
	}
}

// FindCreateContext returns the data of the context named name.
func FindCreateContext(ctxs []CreateContext, name string) ([]byte, bool) {
	for _, c := range ctxs {
		if c.Name == name {
			return c.Data, true
		}
	}
	return nil, false
}

// CreateRequest is the SMB2 CREATE request ([MS-SMB2] 2.2.13); Name is the
// share-relative path with backslashes and no leading separator.
type CreateRequest struct {
	RequestedOplockLevel uint8
	ImpersonationLevel   uint32
	DesiredAccess        uint32
	FileAttributes       uint32
	ShareAccess          uint32
	CreateDisposition    uint32
	CreateOptions        uint32
	Name                 string
	Contexts             []CreateContext
}

func (r *CreateRequest) nameLen() int { return UTF16Len(r.Name) }

func (r *CreateRequest) ctxOff() int {
	if len(r.Contexts) == 0 {
		return 0
	}
	return pad8(56 + r.nameLen())
}

// Size is the encoded body size.
func (r *CreateRequest) Size() int {
	if len(r.Contexts) > 0 {
		return r.ctxOff() + createContextsSize(r.Contexts)
	}
	return 56 + max(r.nameLen(), 1)
}

// Append appends the encoded body.
func (r *CreateRequest) Append(b []byte) []byte {
	start := len(b)
	nl := r.nameLen()
	b = ap16(b, 57)
	b = append(b, 0, r.RequestedOplockLevel)
	b = ap32(b, r.ImpersonationLevel)
	b = ap64(b, 0) // SmbCreateFlags
	b = ap64(b, 0) // Reserved
	b = ap32(b, r.DesiredAccess)
	b = ap32(b, r.FileAttributes)
	b = ap32(b, r.ShareAccess)
	b = ap32(b, r.CreateDisposition)
	b = ap32(b, r.CreateOptions)
	b = ap16(b, HeaderSize+56)
	b = ap16(b, uint16(nl))
	if co := r.ctxOff(); co > 0 {
		b = ap32(b, uint32(HeaderSize+co))
		b = ap32(b, uint32(createContextsSize(r.Contexts)))
	} else {
		b = ap64(b, 0)
	}
	b = AppendUTF16(b, r.Name)
	if len(r.Contexts) > 0 {
		b = appendZeros(b, r.ctxOff()-(len(b)-start))
		return appendCreateContexts(b, r.Contexts)
	}
	if nl == 0 {
		b = append(b, 0)
	}
	return b
}

// Unmarshal decodes the body (tests and fuzzing).
func (r *CreateRequest) Unmarshal(body []byte) error {
	if err := checkStruct("create request", body, 57, 56); err != nil {
		return err
	}
	r.RequestedOplockLevel = body[3]
	r.ImpersonationLevel = le32(body[4:])
	r.DesiredAccess = le32(body[24:])
	r.FileAttributes = le32(body[28:])
	r.ShareAccess = le32(body[32:])
	r.CreateDisposition = le32(body[36:])
	r.CreateOptions = le32(body[40:])
	name, err := field(body, uint32(le16(body[44:])), uint32(le16(body[46:])))
	if err != nil {
		return err
	}
	if r.Name, err = DecodeUTF16(name); err != nil {
		return err
	}
	r.Contexts = nil
	if cb, err := field(body, le32(body[48:]), le32(body[52:])); err != nil {
		return err
	} else if cb != nil {
		r.Contexts, err = ParseCreateContexts(cb)
		return err
	}
	return nil
}

// FileTimes are the four FILETIMEs, sizes and attributes that CREATE and
// CLOSE responses (and FileNetworkOpenInformation) carry.
type FileTimes struct {
	CreationTime   uint64
	LastAccessTime uint64
	LastWriteTime  uint64
	ChangeTime     uint64
	AllocationSize uint64
	EndOfFile      uint64
	FileAttributes uint32
}

func (t *FileTimes) append(b []byte) []byte {
	b = ap64(b, t.CreationTime)
	b = ap64(b, t.LastAccessTime)
	b = ap64(b, t.LastWriteTime)
	b = ap64(b, t.ChangeTime)
	b = ap64(b, t.AllocationSize)
	b = ap64(b, t.EndOfFile)
	return ap32(b, t.FileAttributes)
}

func (t *FileTimes) decode(b []byte) {
	t.CreationTime = le64(b)
	t.LastAccessTime = le64(b[8:])
	t.LastWriteTime = le64(b[16:])
	t.ChangeTime = le64(b[24:])
	t.AllocationSize = le64(b[32:])
	t.EndOfFile = le64(b[40:])
	t.FileAttributes = le32(b[48:])
}

// CreateResponse is the SMB2 CREATE response ([MS-SMB2] 2.2.14).
type CreateResponse struct {
	OplockLevel  uint8
	Flags        uint8
	CreateAction uint32
	FileTimes
	FileID   FileID
	Contexts []CreateContext
}

// Size is the encoded body size.
func (r *CreateResponse) Size() int { return len(r.Append(nil)) }

// Append appends the encoded body (tests and fake servers).
func (r *CreateResponse) Append(b []byte) []byte {
	b = ap16(b, 89)
	b = append(b, r.OplockLevel, r.Flags)
	b = ap32(b, r.CreateAction)
	b = r.FileTimes.append(b)
	b = ap32(b, 0)
	b = r.FileID.append(b)
	if len(r.Contexts) == 0 {
		return ap64(b, 0)
	}
	b = ap32(b, HeaderSize+88)
	b = ap32(b, uint32(createContextsSize(r.Contexts)))
	return appendCreateContexts(b, r.Contexts)
}

// Unmarshal decodes the body.
func (r *CreateResponse) Unmarshal(body []byte) error {
	if err := checkStruct("create response", body, 89, 88); err != nil {
		return err
	}
	r.OplockLevel, r.Flags = body[2], body[3]
	r.CreateAction = le32(body[4:])
	r.FileTimes.decode(body[8:])
	r.FileID = getFileID(body[64:])
	r.Contexts = nil
	cb, err := field(body, le32(body[80:]), le32(body[84:]))
	if err != nil || cb == nil {
		return err
	}
	r.Contexts, err = ParseCreateContexts(cb)
	return err
}

// Lease states ([MS-SMB2] 2.2.13.2.8).
const (
	LeaseRead   uint32 = 0x01
	LeaseHandle uint32 = 0x02
	LeaseWrite  uint32 = 0x04
)

// LeaseV2 is the SMB2_CREATE_REQUEST_LEASE_V2 context body ([MS-SMB2] 2.2.13.2.10),
// also the response form (2.2.14.2.11).
type LeaseV2 struct {
	Key       [16]byte
	State     uint32
	Flags     uint32
	ParentKey [16]byte
	Epoch     uint16
}

// Append appends the 52-byte body.
func (l *LeaseV2) Append(b []byte) []byte {
	b = append(b, l.Key[:]...)
	b = ap32(b, l.State)
	b = ap32(b, l.Flags)
	b = ap64(b, 0) // LeaseDuration
	b = append(b, l.ParentKey[:]...)
	b = ap16(b, l.Epoch)
	return ap16(b, 0)
}

// Unmarshal decodes a lease context body (V1 bodies of 32 bytes too).
func (l *LeaseV2) Unmarshal(b []byte) error {
	if len(b) < 32 {
		return malformed("lease context: %d bytes", len(b))
	}
	copy(l.Key[:], b)
	l.State = le32(b[16:])
	l.Flags = le32(b[20:])
	l.ParentKey, l.Epoch = [16]byte{}, 0
	if len(b) >= 52 {
		copy(l.ParentKey[:], b[32:48])
		l.Epoch = le16(b[48:])
	}
	return nil
}

// OnDiskID is the SMB2_CREATE_QUERY_ON_DISK_ID response context body
// ([MS-SMB2] 2.2.14.2.9): the file's on-disk index, the number
// FileInternalInformation and directory listings report as its file ID,
// and the volume's.
type OnDiskID struct {
	DiskFileID uint64
	VolumeID   uint64
}

// Append appends the 32-byte body (tests and fake servers).
func (d *OnDiskID) Append(b []byte) []byte {
	b = ap64(b, d.DiskFileID)
	b = ap64(b, d.VolumeID)
	return appendZeros(b, 16)
}

// Unmarshal decodes the body.
func (d *OnDiskID) Unmarshal(b []byte) error {
	if len(b) < 32 {
		return malformed("on-disk id context: %d bytes", len(b))
	}
	d.DiskFileID, d.VolumeID = le64(b), le64(b[8:])
	return nil
}
