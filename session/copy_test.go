package session

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/session/smb2"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// TestCopyRange copies on a real Samba and checks the bytes on its disk.
func TestCopyRange(t *testing.T) {
	srv := samba.Start(t, samba.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := Dial(ctx, Config{Addr: srv.Addr, User: srv.User, Password: srv.Password})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tr, err := s.Mount(ctx, srv.Share)
	if err != nil {
		t.Fatal(err)
	}
	disk := func(p string) string { return filepath.Join(srv.Dir, p) }
	data := make([]byte, 40<<20+12345) // past 16 MiB requests, several in flight
	rand.Read(data)
	if err := os.WriteFile(disk("src"), data, 0o666); err != nil {
		t.Fatal(err)
	}
	os.Chmod(disk("src"), 0o666)
	open := func(t *testing.T, name string, access, disp uint32) *File {
		t.Helper()
		f, err := tr.Create(ctx, name, CreateOptions{Access: access, Disposition: disp, Options: smb2.FileNonDirectoryFile})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close(context.Background()) })
		return f
	}
	src := open(t, "src", smb2.GenericRead, smb2.FileOpen)
	check := func(name string, want []byte) {
		t.Helper()
		got, err := os.ReadFile(disk(name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes on disk differ from the %d expected", name, len(got), len(want))
		}
	}

	t.Run("whole file", func(t *testing.T) {
		dst := open(t, "whole", smb2.GenericWrite, smb2.FileCreate)
		n, err := dst.CopyRange(ctx, src, 0, 0, int64(len(data)))
		if err != nil || n != int64(len(data)) {
			t.Fatalf("copied %d, %v", n, err)
		}
		check("whole", data)
	})
	t.Run("ranges", func(t *testing.T) {
		dst := open(t, "ranges", smb2.GenericWrite|smb2.GenericRead, smb2.FileCreate)
		want := bytes.Repeat([]byte{'x'}, 4<<20)
		if _, err := dst.WriteAt(ctx, want, 0); err != nil {
			t.Fatal(err)
		}
		// Into the middle, unaligned; then past the target's end.
		if n, err := dst.CopyRange(ctx, src, 1<<20+7, 5, 3<<20+123); err != nil || n != 3<<20+123 {
			t.Fatalf("copied %d, %v", n, err)
		}
		copy(want[5:], data[1<<20+7:][:3<<20+123])
		if n, err := dst.CopyRange(ctx, src, 999, 6<<20, 4096); err != nil || n != 4096 {
			t.Fatalf("copied %d, %v", n, err)
		}
		want = append(want, make([]byte, 2<<20)...)
		want = append(want, data[999:999+4096]...)
		check("ranges", want)
	})
	t.Run("server limits learnt", func(t *testing.T) {
		// Ask beyond Samba's limits: it refuses and tells them; the copy
		// goes on within them.
		tr.copy.limits = copyLimits{chunks: 1024, chunkSize: 4 << 20, total: 64 << 20}
		dst := open(t, "limits", smb2.GenericWrite, smb2.FileCreate)
		n, err := dst.CopyRange(ctx, src, 0, 0, int64(len(data)))
		if err != nil || n != int64(len(data)) {
			t.Fatalf("copied %d, %v", n, err)
		}
		if l := tr.copy.get(); l != defaultCopyLimits {
			t.Errorf("limits learnt %+v, want Samba's %+v", l, defaultCopyLimits)
		}
		check("limits", data)
	})
	t.Run("past the source's end", func(t *testing.T) {
		dst := open(t, "past", smb2.GenericWrite, smb2.FileCreate)
		n, err := dst.CopyRange(ctx, src, int64(len(data))-10, 0, 100)
		// Samba refuses the chunk whole (STATUS_INVALID_VIEW_SIZE); a
		// server may also copy what there is.
		if err == nil && n > 10 || err != nil && n != 0 {
			t.Fatalf("copied %d bytes from 10 left, %v", n, err)
		}
		if err != nil && !errors.Is(err, smb2.StatusInvalidViewSize) {
			t.Errorf("copy past the end: %v", err)
		}
	})
	t.Run("source not readable", func(t *testing.T) {
		wo := open(t, "src", smb2.FileWriteData, smb2.FileOpen)
		dst := open(t, "noread", smb2.GenericWrite, smb2.FileCreate)
		if n, err := dst.CopyRange(ctx, wo, 0, 0, 100); err == nil || n != 0 {
			t.Fatalf("copy from a write-only handle: %d, %v", n, err)
		} else if errors.Is(err, ErrNotSupported) {
			t.Fatalf("a refused copy marked the server as without copy: %v", err)
		}
	})
}

// TestCopyAnswer: what a server answers to a copy, hostile answers included.
func TestCopyAnswer(t *testing.T) {
	lim := defaultCopyLimits
	ioctl := func(out []byte) []byte {
		return (&smb2.IoctlResponse{CtlCode: smb2.FsctlSrvCopychunkWrite, Output: out}).Append(nil)
	}
	counts := func(c, b, total uint32) []byte {
		return ioctl((&smb2.CopyChunkResponse{ChunksWritten: c, ChunkBytesWritten: b, TotalBytesWritten: total}).Append(nil))
	}
	cases := []struct {
		name   string
		status smb2.Status
		body   []byte
		got    int64
		limits *copyLimits
		err    error // errors.Is target; nil: no error
	}{
		{"copied", smb2.StatusSuccess, counts(2, 1<<20, 2<<20), 2 << 20, nil, nil},
		{"short", smb2.StatusSuccess, counts(1, 100, 100), 100, nil, nil},
		{"more than asked", smb2.StatusSuccess, counts(3, 1<<20, 3<<20), 0, nil, ErrProtocol},
		{"no output", smb2.StatusSuccess, ioctl(nil), 0, nil, ErrProtocol},
		{"garbage", smb2.StatusSuccess, []byte{1, 2, 3}, 0, nil, ErrProtocol},
		{"lower limits", smb2.StatusInvalidParameter, counts(16, 64<<10, 1<<20), 0, &copyLimits{16, 64 << 10, 1 << 20}, nil},
		{"total below a chunk", smb2.StatusInvalidParameter, counts(16, 64<<10, 1000), 0, &copyLimits{16, 64 << 10, 64 << 10}, nil},
		{"higher limits are no news", smb2.StatusInvalidParameter, counts(1024, 4<<20, 64<<20), 0, nil, smb2.StatusInvalidParameter},
		{"zero limits", smb2.StatusInvalidParameter, counts(0, 0, 0), 0, nil, smb2.StatusInvalidParameter},
		{"invalid parameter without limits", smb2.StatusInvalidParameter, nil, 0, nil, smb2.StatusInvalidParameter},
		{"not supported", smb2.StatusNotSupported, nil, 0, nil, ErrNotSupported},
		{"invalid device request", smb2.StatusInvalidDeviceRequest, nil, 0, nil, ErrNotSupported},
		{"access denied", smb2.StatusAccessDenied, nil, 0, nil, smb2.StatusAccessDenied},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, nl, err := copyAnswer(tc.status, tc.body, 2<<20, lim)
			if got != tc.got || (nl == nil) != (tc.limits == nil) || nl != nil && *nl != *tc.limits {
				t.Errorf("got %d, limits %+v; want %d, %+v", got, nl, tc.got, tc.limits)
			}
			if tc.err == nil && err != nil || tc.err != nil && !errors.Is(err, tc.err) {
				t.Errorf("err %v, want %v", err, tc.err)
			}
		})
	}
}
