package smb2

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

var dirClasses = []FileInfoClass{
	FileDirectoryInformationClass, FileFullDirectoryInformationClass,
	FileBothDirectoryInformationClass, FileIdBothDirectoryInformationClass,
	FileIdFullDirectoryInformationClass, FileNamesInformationClass,
}

func collectDir(class FileInfoClass, b []byte) ([]DirEntry, error) {
	var out []DirEntry
	err := ParseDirEntries(class, b, func(e *DirEntry) error {
		out = append(out, *e)
		return nil
	})
	return out, err
}

func sampleDirEntries() []DirEntry {
	return []DirEntry{
		{Name: ".", FileIndex: 0, CreationTime: 1, LastAccessTime: 2, LastWriteTime: 3, ChangeTime: 4,
			FileAttributes: FileAttributeDirectory, FileID: 5},
		{Name: "a file.txt", FileIndex: 1, EndOfFile: 1234, AllocationSize: 4096,
			FileAttributes: FileAttributeArchive, EaSize: 20, ShortName: "AFILE~1.TXT", FileID: 77},
		{Name: "link→ü😀", FileAttributes: FileAttributeReparsePoint, ReparseTag: ReparseTagSymlink, FileID: 1 << 60},
	}
}

// dirProject keeps what class carries of e.
func dirProject(class FileInfoClass, e DirEntry) DirEntry {
	l, _ := dirLayoutOf(class)
	p := DirEntry{Name: e.Name, FileIndex: e.FileIndex}
	if l.full {
		p.CreationTime, p.LastAccessTime, p.LastWriteTime, p.ChangeTime = e.CreationTime, e.LastAccessTime, e.LastWriteTime, e.ChangeTime
		p.EndOfFile, p.AllocationSize, p.FileAttributes = e.EndOfFile, e.AllocationSize, e.FileAttributes
	}
	if l.eaSize >= 0 {
		p.EaSize, p.ReparseTag = e.EaSize, e.ReparseTag
	}
	if l.shortName >= 0 {
		p.ShortName = e.ShortName
	}
	if l.fileID >= 0 {
		p.FileID = e.FileID
	}
	return p
}

func TestDirEntriesRoundTrip(t *testing.T) {
	in := sampleDirEntries()
	for _, class := range dirClasses {
		t.Run(class.String(), func(t *testing.T) {
			enc := AppendDirEntries(nil, class, in)
			size := 0
			for i := range in {
				if i < len(in)-1 {
					size += pad8(DirEntrySize(class, &in[i]))
				} else {
					size += DirEntrySize(class, &in[i])
				}
			}
			if size != len(enc) {
				t.Errorf("sizes %d, encoded %d", size, len(enc))
			}
			got, err := collectDir(class, enc)
			if err != nil {
				t.Fatal(err)
			}
			for i := range in {
				if want := dirProject(class, in[i]); !reflect.DeepEqual(got[i], want) {
					t.Errorf("entry %d:\n%+v\nwant\n%+v", i, got[i], want)
				}
			}
			for n := 1; n < len(enc); n++ {
				if _, err := collectDir(class, enc[:n:n]); !errors.Is(err, ErrMalformed) {
					t.Errorf("%d-byte prefix of %d: %v", n, len(enc), err)
				}
			}
		})
	}
}

// TestFileIdBothDirectoryFixture decodes a buffer built by hand from the
// [MS-FSCC] layout: two entries, the first padded to 8 bytes.
func TestFileIdBothDirectoryFixture(t *testing.T) {
	first := fxBuf{}.u32(0).u32(7). // NextEntryOffset (patched below), FileIndex
					u64(100).u64(200).u64(300).u64(400).   // times
					u64(10).u64(4096).                     // EndOfFile, AllocationSize
					u32(0x20).u32(10).u32(3).              // attributes, FileNameLength, EaSize
					u8(8).u8(0).ascii16("AB~1").zeros(16). // ShortNameLength, Reserved1, ShortName[24]
					u16(0).u64(0x1122334455667788).        // Reserved2, FileId
					ascii16("ab.cd")
	next := pad8(len(first))
	first = first.zeros(next - len(first))
	first[0] = byte(next)
	second := fxBuf{}.u32(0).u32(8).zeros(32).u64(0).u64(0).
		u32(0x410).u32(4).u32(0xA000000C). // DIRECTORY|REPARSE_POINT: EaSize is the tag
		u8(0).u8(0).zeros(24).u16(0).u64(9).ascii16("ln")
	buf := append(first, second...)
	got, err := collectDir(FileIdBothDirectoryInformationClass, buf)
	if err != nil {
		t.Fatal(err)
	}
	want := []DirEntry{
		{Name: "ab.cd", FileIndex: 7, CreationTime: 100, LastAccessTime: 200, LastWriteTime: 300, ChangeTime: 400,
			EndOfFile: 10, AllocationSize: 4096, FileAttributes: FileAttributeArchive, EaSize: 3, ShortName: "AB~1",
			FileID: 0x1122334455667788},
		{Name: "ln", FileIndex: 8, FileAttributes: FileAttributeDirectory | FileAttributeReparsePoint,
			ReparseTag: ReparseTagSymlink, FileID: 9},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
}

func TestFileNamesFixture(t *testing.T) {
	buf := fxBuf{}.u32(16).u32(1).u32(2).ascii16("x").zeros(2).u32(0).u32(2).u32(4).ascii16("yz")
	got, err := collectDir(FileNamesInformationClass, buf)
	if err != nil || len(got) != 2 || got[0].Name != "x" || got[1].Name != "yz" || got[1].FileIndex != 2 {
		t.Errorf("%+v %v", got, err)
	}
}

func TestParseDirEntriesRejects(t *testing.T) {
	one := AppendDirEntries(nil, FileDirectoryInformationClass, []DirEntry{{Name: "abc"}})
	two := AppendDirEntries(nil, FileDirectoryInformationClass, []DirEntry{{Name: "abc"}, {Name: "d"}})
	mut := func(b []byte, off int, v uint32) []byte {
		c := append([]byte(nil), b...)
		c[off], c[off+1], c[off+2], c[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		return c
	}
	cases := map[string][]byte{
		"name beyond buffer":     mut(one, 60, 8),
		"name beyond next entry": mut(two, 60, 16),
		"odd name length":        mut(one, 60, 5),
		"huge name length":       mut(one, 60, 0xFFFFFFFF),
		"next points to itself":  mut(two, 0, 0),                // not an error: ends the list (checked below)
		"next beyond buffer":     mut(two, 0, uint32(len(two))), // there is no room for an entry
		"next inside fixed part": mut(two, 0, 8),                // would overlap its own fields
		"next wraps":             mut(two, 0, 0xFFFFFFF8),       // huge, must not overflow
		"trailing garbage":       append(append([]byte(nil), two...), 1, 2, 3),
	}
	for name, b := range cases {
		_, err := collectDir(FileDirectoryInformationClass, b)
		if name == "next points to itself" || name == "trailing garbage" {
			// NextEntryOffset 0 ends the walk; bytes after the last entry
			// belong to it (its name is bounded by FileNameLength).
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	short := AppendDirEntries(nil, FileBothDirectoryInformationClass, []DirEntry{{Name: "a"}})
	short[68] = 25
	if _, err := collectDir(FileBothDirectoryInformationClass, short); !errors.Is(err, ErrMalformed) {
		t.Errorf("short name of 25 bytes: %v", err)
	}
	if err := ParseDirEntries(FileStreamInformationClass, one, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("unknown class: %v", err)
	}
	if got, err := collectDir(FileDirectoryInformationClass, nil); err != nil || got != nil {
		t.Errorf("empty buffer: %v %v", got, err)
	}
}

func TestParseDirEntriesStopsOnCallbackError(t *testing.T) {
	buf := AppendDirEntries(nil, FileNamesInformationClass, []DirEntry{{Name: "a"}, {Name: "b"}, {Name: "c"}})
	stop := errors.New("stop")
	n := 0
	err := ParseDirEntries(FileNamesInformationClass, buf, func(e *DirEntry) error {
		n++
		if e.Name == "b" {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Errorf("err %v after %d entries", err, n)
	}
}

// dirChunks encodes count entries like a large directory, in chunks of at
// most 64 KiB as QUERY_DIRECTORY would return them.
func dirChunks(class FileInfoClass, count int) [][]byte {
	var chunks [][]byte
	var cur []DirEntry
	size := 0
	for i := 0; i < count; i++ {
		e := DirEntry{Name: fmt.Sprintf("file-%06d.dat", i), FileIndex: uint32(i), EndOfFile: uint64(i),
			FileAttributes: FileAttributeArchive, FileID: uint64(i)}
		sz := pad8(DirEntrySize(class, &e))
		if size+sz > 64<<10 {
			chunks = append(chunks, AppendDirEntries(nil, class, cur))
			cur, size = nil, 0
		}
		cur = append(cur, e)
		size += sz
	}
	return append(chunks, AppendDirEntries(nil, class, cur))
}

func TestParseDirEntriesAllocs(t *testing.T) {
	chunk := dirChunks(FileIdBothDirectoryInformationClass, 400)[0]
	entries := 0
	_ = ParseDirEntries(FileIdBothDirectoryInformationClass, chunk, func(*DirEntry) error { entries++; return nil })
	allocs := testing.AllocsPerRun(20, func() {
		_ = ParseDirEntries(FileIdBothDirectoryInformationClass, chunk, func(*DirEntry) error { return nil })
	})
	// One string per name, plus a constant for the walk itself.
	if allocs > float64(entries)+3 {
		t.Errorf("%v allocations for %d entries", allocs, entries)
	}
}

func BenchmarkParseDirEntries(b *testing.B) {
	chunks := dirChunks(FileIdBothDirectoryInformationClass, 20000)
	total := 0
	for _, c := range chunks {
		total += len(c)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for _, c := range chunks {
			if err := ParseDirEntries(FileIdBothDirectoryInformationClass, c, func(*DirEntry) error { n++; return nil }); err != nil {
				b.Fatal(err)
			}
		}
		if n != 20000 {
			b.Fatalf("%d entries", n)
		}
	}
}

func FuzzParseDirEntries(f *testing.F) {
	for i, class := range dirClasses {
		f.Add(uint8(i), AppendDirEntries(nil, class, sampleDirEntries()))
	}
	f.Fuzz(func(t *testing.T, ci uint8, b []byte) {
		class := dirClasses[int(ci)%len(dirClasses)]
		var got []DirEntry
		err := ParseDirEntries(class, b, func(e *DirEntry) error {
			got = append(got, *e)
			return nil
		})
		if err != nil {
			return
		}
		// What parses re-encodes into a listing with the same entries.
		again, err := collectDir(class, AppendDirEntries(nil, class, got))
		if err != nil || len(again) != len(got) {
			t.Fatalf("re-parse: %d entries of %d, %v", len(again), len(got), err)
		}
		for i := range got {
			if again[i].Name != got[i].Name {
				t.Fatalf("entry %d: %q became %q", i, got[i].Name, again[i].Name)
			}
		}
	})
}
