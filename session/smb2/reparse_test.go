package smb2

import (
	"errors"
	"testing"
)

func TestSymlinkReparseFixture(t *testing.T) {
	in := &SymlinkReparseBuffer{SubstituteName: `..\target`, PrintName: `..\target`, Flags: SymlinkFlagRelative}
	want := fxBuf{}.u32(0xA000000C).u16(12 + 36).u16(0).
		u16(0).u16(18).u16(18).u16(18).u32(1).
		ascii16(`..\target`).ascii16(`..\target`)
	checkInfoCodec(t, in, func() infoCodec { return new(SymlinkReparseBuffer) }, want, 0)

	// Names in the other order, with NULs between, as Windows may write them.
	other := fxBuf{}.u32(0xA000000C).u16(12 + 24).u16(0).
		u16(12).u16(10).u16(0).u16(10).u32(0).
		ascii16(`C:\xy`).u16(0).ascii16(`\??\C`).u16(0)
	var got SymlinkReparseBuffer
	if err := got.Unmarshal(other); err != nil || got.SubstituteName != `\??\C` || got.PrintName != `C:\xy` || got.Flags != 0 {
		t.Errorf("%+v %v", got, err)
	}
}

func TestSymlinkReparseRejects(t *testing.T) {
	good := (&SymlinkReparseBuffer{SubstituteName: "abc", PrintName: "abc"}).Append(nil)
	bad := func(off int, v uint16) []byte {
		c := append([]byte(nil), good...)
		c[off], c[off+1] = byte(v), byte(v>>8)
		return c
	}
	cases := map[string][]byte{
		"substitute beyond":  bad(8, 10),
		"print beyond":       bad(14, 8),
		"odd length":         bad(10, 3),
		"data length beyond": bad(4, 100),
		"data too short":     bad(4, 4),
		"wrong tag":          append(fxBuf{}.u32(uint32(ReparseTagMountPoint)), good[4:]...),
	}
	for name, b := range cases {
		if err := new(SymlinkReparseBuffer).Unmarshal(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestMountPointReparse(t *testing.T) {
	in := &MountPointReparseBuffer{SubstituteName: `\??\C:\dir`, PrintName: `C:\dir`}
	want := fxBuf{}.u32(0xA0000003).u16(8 + 20 + 12 + 4).u16(0).
		u16(0).u16(20).u16(22).u16(12).
		ascii16(`\??\C:\dir`).u16(0).ascii16(`C:\dir`).u16(0)
	checkInfoCodec(t, in, func() infoCodec { return new(MountPointReparseBuffer) }, want, 0)
}

func TestNFSReparse(t *testing.T) {
	lnk := &NFSReparseBuffer{Type: NFSSpecfileLnk, Target: "../a/b"}
	want := fxBuf{}.u32(0x80000014).u16(8 + 12).u16(0).u64(0x014B4E4C).ascii16("../a/b")
	checkInfoCodec(t, lnk, func() infoCodec { return new(NFSReparseBuffer) }, want, 0)
	chr := &NFSReparseBuffer{Type: NFSSpecfileChr, Major: 1, Minor: 3}
	want = fxBuf{}.u32(0x80000014).u16(16).u16(0).u64(0x524843).u32(1).u32(3)
	checkInfoCodec(t, chr, func() infoCodec { return new(NFSReparseBuffer) }, want, 0)
	checkInfoCodec(t, &NFSReparseBuffer{Type: NFSSpecfileBlk, Major: 8, Minor: 1},
		func() infoCodec { return new(NFSReparseBuffer) }, nil, 0)
	checkInfoCodec(t, &NFSReparseBuffer{Type: NFSSpecfileFifo},
		func() infoCodec { return new(NFSReparseBuffer) }, fxBuf{}.u32(0x80000014).u16(8).u16(0).u64(0x4F464946), 0)
	checkInfoCodec(t, &NFSReparseBuffer{Type: NFSSpecfileSock},
		func() infoCodec { return new(NFSReparseBuffer) }, nil, 0)

	rejects := map[string][]byte{
		"empty target":      fxBuf{}.u32(0x80000014).u16(8).u16(0).u64(0x014B4E4C),
		"NUL in target":     fxBuf{}.u32(0x80000014).u16(12).u16(0).u64(0x014B4E4C).ascii16("a\x00"),
		"odd target":        fxBuf{}.u32(0x80000014).u16(11).u16(0).u64(0x014B4E4C).raw('a', 0, 'b'),
		"short device":      fxBuf{}.u32(0x80000014).u16(12).u16(0).u64(0x524843).u32(1),
		"long device":       fxBuf{}.u32(0x80000014).u16(20).u16(0).u64(0x4B4C42).u32(1).u32(2).u32(3),
		"no type":           fxBuf{}.u32(0x80000014).u16(4).u16(0).u32(0),
		"symlink tag":       fxBuf{}.u32(0xA000000C).u16(8).u16(0).u64(0x014B4E4C),
		"short header":      fxBuf{}.u32(0x80000014).u16(8),
		"data length large": fxBuf{}.u32(0x80000014).u16(100).u16(0).u64(0x014B4E4C),
	}
	for name, b := range rejects {
		if err := new(NFSReparseBuffer).Unmarshal(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if s := NFSSpecfileLnk.String(); s != "NFS_SPECFILE_LNK" {
		t.Error(s)
	}
}

func TestLXSymlinkReparse(t *testing.T) {
	in := &LXSymlinkReparseBuffer{Target: "/usr/bin/ä"}
	want := fxBuf{}.u32(0xA000001D).u16(4 + 11).u16(0).u32(2).raw([]byte("/usr/bin/ä")...)
	checkInfoCodec(t, in, func() infoCodec { return new(LXSymlinkReparseBuffer) }, want, 0)
	rejects := map[string][]byte{
		"version 1":  fxBuf{}.u32(0xA000001D).u16(5).u16(0).u32(1).raw('a'),
		"bad utf-8":  fxBuf{}.u32(0xA000001D).u16(5).u16(0).u32(2).raw(0xFF),
		"nul":        fxBuf{}.u32(0xA000001D).u16(6).u16(0).u32(2).raw('a', 0),
		"no version": fxBuf{}.u32(0xA000001D).u16(2).u16(0).u16(2),
	}
	for name, b := range rejects {
		if err := new(LXSymlinkReparseBuffer).Unmarshal(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParseReparseBuffer(t *testing.T) {
	b := AppendReparseBuffer(nil, ReparseTagAFUnix, []byte("xyz"))
	tag, data, err := ParseReparseBuffer(append(b, 0xFF)) // trailing byte ignored
	if err != nil || tag != ReparseTagAFUnix || string(data) != "xyz" {
		t.Errorf("%v %q %v", tag, data, err)
	}
	// A non-Microsoft tag has a 16-byte GUID before its data.
	guid := fxBuf{}.u32(0x00001234).u16(2).u16(0).zeros(16).raw('h', 'i')
	tag, data, err = ParseReparseBuffer(guid)
	if err != nil || tag != 0x1234 || string(data) != "hi" {
		t.Errorf("guid: %v %q %v", tag, data, err)
	}
	for n := range len(guid) {
		if _, _, err := ParseReparseBuffer(guid[:n]); !errors.Is(err, ErrMalformed) {
			t.Errorf("%d-byte prefix: %v", n, err)
		}
	}
	if !ReparseTagSymlink.IsMicrosoft() || !ReparseTagSymlink.IsNameSurrogate() || ReparseTagNFS.IsNameSurrogate() {
		t.Error("tag bits")
	}
	if s := ReparseTagLXSymlink.String(); s != "IO_REPARSE_TAG_LX_SYMLINK" {
		t.Error(s)
	}
	if s := ReparseTag(0x1234).String(); s != "ReparseTag(0x00001234)" {
		t.Error(s)
	}
}

func FuzzReparse(f *testing.F) {
	f.Add((&SymlinkReparseBuffer{SubstituteName: `a\b`, PrintName: `a\b`, Flags: 1}).Append(nil))
	f.Add((&MountPointReparseBuffer{SubstituteName: `\??\C:\x`, PrintName: `C:\x`}).Append(nil))
	f.Add((&NFSReparseBuffer{Type: NFSSpecfileLnk, Target: "t"}).Append(nil))
	f.Add((&NFSReparseBuffer{Type: NFSSpecfileChr, Major: 1, Minor: 2}).Append(nil))
	f.Add((&LXSymlinkReparseBuffer{Target: "/x"}).Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		tag, data, err := ParseReparseBuffer(b)
		if err == nil && len(data) > len(b) {
			t.Fatalf("tag %v: data longer than input", tag)
		}
		var s SymlinkReparseBuffer
		if s.Unmarshal(b) == nil {
			if err := new(SymlinkReparseBuffer).Unmarshal(s.Append(nil)); err != nil {
				t.Fatalf("symlink re-decode: %v", err)
			}
		}
		var m MountPointReparseBuffer
		if m.Unmarshal(b) == nil {
			if err := new(MountPointReparseBuffer).Unmarshal(m.Append(nil)); err != nil {
				t.Fatalf("mount point re-decode: %v", err)
			}
		}
		var n NFSReparseBuffer
		if n.Unmarshal(b) == nil {
			var again NFSReparseBuffer
			if err := again.Unmarshal(n.Append(nil)); err != nil || again != n {
				t.Fatalf("nfs re-decode: %+v %v", again, err)
			}
		}
		var l LXSymlinkReparseBuffer
		if l.Unmarshal(b) == nil {
			var again LXSymlinkReparseBuffer
			if err := again.Unmarshal(l.Append(nil)); err != nil || again != l {
				t.Fatalf("lx re-decode: %v", err)
			}
		}
	})
}
