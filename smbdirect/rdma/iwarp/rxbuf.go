package iwarp

import (
	"bufio"
	"io"
	"net"
	"syscall"
	"unsafe"
)

// rxReader is the receive loop's reader of the socket: a small buffer for
// FPDU headers, trailers and small payloads, like a bufio.Reader, except
// that a payload bound for memory of its own (a region, a posted receive)
// is read straight into that memory together with a short look-ahead into
// the buffer, in one readv(2). A bulk FPDU then costs one system call, and
// its payload no copy: the look-ahead holds the trailer and the next
// FPDU's header, which the next steps find in the buffer.
//
// When the look-ahead missed the next header (it had not arrived yet),
// the read that fetches it takes whatever is there, up to the buffer's
// size: payload that arrived together with its header is then copied out
// of the buffer. On loopback that copy costs less than the extra system
// call a header-only read would add before each payload (measured with
// make bench-rdma: a variant that never read payload into the buffer had
// 1.4 to 2.7 times the read calls and more CPU time for RDMA READ and
// WRITE of 64 KiB and 1 MiB); copied/B in bench-rdma shows how much it is.
//
// (With a bufio.Reader every bulk FPDU took a direct read of the payload
// and a separate fill for the trailer and header.)
type rxReader struct {
	rc   syscall.RawConn
	buf  []byte
	r, w int   // buf[r:w] is unread
	err  error // sticky read error

	// readv's system call, a method value made once (a closure per call
	// would be an allocation per read), and its arguments and results.
	call  func(fd uintptr) bool
	iov   [2]syscall.Iovec
	niov  int
	n     int
	errno syscall.Errno
}

const (
	// rxLookahead is what a direct read takes beyond its destination: the
	// trailer of this FPDU (PAD and CRC, at most 7 bytes) and the header
	// of the next (with a Read Request, at most 48), rounded up.
	rxLookahead = 64
	// rxDirectMin is the smallest payload read straight into its
	// destination; smaller ones come out of the buffer (rxBufSize), which
	// one read fills with several of them: a system call per SMB-Direct
	// Send (at most 8 KiB) costs more here than copying it.
	rxDirectMin = 16 << 10
)

// newRxReader takes over the connection from the handshake's reader,
// with whatever that has buffered beyond the MPA frames.
func newRxReader(c *net.TCPConn, br *bufio.Reader) *rxReader {
	x := &rxReader{buf: make([]byte, rxBufSize)}
	x.rc, x.err = c.SyscallConn()
	x.call = x.sysReadv
	if n := br.Buffered(); n > 0 {
		p, _ := br.Peek(n)
		if n > len(x.buf) {
			x.buf = make([]byte, n)
		}
		x.w = copy(x.buf, p)
	}
	return x
}

// Buffered is how many unread bytes the buffer holds.
func (x *rxReader) Buffered() int { return x.w - x.r }

// Peek returns the next n bytes (n <= len(buf)) without consuming them,
// reading as needed. With fewer available it returns what there is and
// the error.
func (x *rxReader) Peek(n int) ([]byte, error) {
	for x.w-x.r < n {
		if err := x.fill(); err != nil {
			return x.buf[x.r:x.w], err
		}
	}
	return x.buf[x.r : x.r+n], nil
}

// Discard consumes n buffered bytes.
func (x *rxReader) Discard(n int) { x.r += n }

// fill reads at least one byte into the buffer, after moving what is
// unread to its start.
func (x *rxReader) fill() error {
	if x.r > 0 {
		x.w = copy(x.buf, x.buf[x.r:x.w])
		x.r = 0
	}
	n, err := x.readv(nil, x.buf[x.w:])
	x.w += n
	return err
}

// Read fills dst from the buffer first (copied; it returns how many
// bytes so), then, for a payload of at least rxDirectMin, straight from
// the socket with a look-ahead into the emptied buffer; a smaller one is
// read through the buffer. It returns once dst is full or on an error.
func (x *rxReader) Read(dst []byte) (copied int, err error) {
	for len(dst) > 0 {
		if b := x.w - x.r; b > 0 {
			n := copy(dst, x.buf[x.r:x.w])
			x.r += n
			copied += n
			dst = dst[n:]
			continue
		}
		x.r, x.w = 0, 0
		if len(dst) < rxDirectMin {
			if err := x.fill(); err != nil {
				return copied, err
			}
			continue
		}
		n, err := x.readv(dst, x.buf[:rxLookahead])
		if n > len(dst) {
			x.w = n - len(dst)
			n = len(dst)
		}
		dst = dst[n:]
		if err != nil {
			return copied, err
		}
	}
	return copied, nil
}

// readv reads into a and then b with one system call, waiting for data
// through the runtime's poller. It returns io.EOF at the end of the
// stream.
func (x *rxReader) readv(a, b []byte) (int, error) {
	if x.err != nil {
		return 0, x.err
	}
	x.niov = 0
	for _, p := range [2][]byte{a, b} {
		if len(p) > 0 {
			x.iov[x.niov] = syscall.Iovec{Base: unsafe.SliceData(p)}
			x.iov[x.niov].SetLen(len(p))
			x.niov++
		}
	}
	err := x.rc.Read(x.call)
	n, errno := x.n, x.errno
	x.iov = [2]syscall.Iovec{} // no pointers into the caller's memory kept
	switch {
	case err != nil:
	case errno == syscall.EINTR:
		return 0, nil
	case errno != 0:
		err = errno
	case n == 0:
		err = io.EOF
	}
	if err != nil {
		x.err = err
		return 0, err
	}
	return n, nil
}

func (x *rxReader) sysReadv(fd uintptr) bool {
	r, _, e := syscall.Syscall(syscall.SYS_READV, fd, uintptr(unsafe.Pointer(&x.iov[0])), uintptr(x.niov))
	x.n, x.errno = int(r), e
	return e != syscall.EAGAIN
}
