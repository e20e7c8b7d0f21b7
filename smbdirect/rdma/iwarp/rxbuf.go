package iwarp

import (
	"bufio"
	"encoding/binary"
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
//
// A bulk segment of a tagged message that goes on (RDMA Write, Read
// Response) is read with ReadRun: the same readv also takes the next few
// segments of the message where they are predicted to land, so that a
// 1 MiB message costs about a dozen reads instead of some thirty (make
// bench-rdma, RDMA READ 1 MiB: 34 readv per MiB before, 10 after).
type rxReader struct {
	rc   syscall.RawConn
	buf  []byte
	r, w int   // buf[r:w] is unread
	err  error // sticky read error

	// readv's system call, a method value made once (a closure per call
	// would be an allocation per read), and its arguments and results.
	call  func(fd uintptr) bool
	iov   [rxIovMax]syscall.Iovec
	niov  int
	n     int
	errno syscall.Errno

	// ReadRun's look-ahead and the gaps between predicted payloads.
	la   [rxLookahead]byte
	gaps [rxAhead][rxGapMax]byte
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

	// rxAhead is the most FPDUs a run read (ReadRun) predicts beyond the
	// one it places; rxGapMax the most bytes between two payloads of a
	// run: PAD and CRC of one FPDU, ULPDU_Length and tagged header of the
	// next.
	rxAhead  = 3
	rxGapMax = 3 + 4 + 2 + TaggedHeaderLen
	rxIovMax = 2 + 2*rxAhead

	// rxBufCap is the buffer's size: rxBufSize, and room for everything a
	// run read can bring that has to go back in front of the stream.
	rxBufCap = rxBufSize + rxAhead*(rxGapMax+maxTaggedPayload) + rxLookahead
	// maxTaggedPayload is the largest payload of a tagged FPDU.
	maxTaggedPayload = 0xffff - TaggedHeaderLen
)

// newRxReader takes over the connection from the handshake's reader,
// with whatever that has buffered beyond the MPA frames.
func newRxReader(c *net.TCPConn, br *bufio.Reader) *rxReader {
	x := &rxReader{buf: make([]byte, rxBufCap)}
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
	// Up to rxBufSize: the rest of the buffer is room for what a run read
	// puts back (ReadRun), not for reading ahead through copies.
	n, err := x.readv(nil, x.buf[x.w:max(rxBufSize, x.w+1)])
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
	x.niov = 0
	x.addIov(a)
	x.addIov(b)
	return x.readIov()
}

func (x *rxReader) addIov(p []byte) {
	if len(p) > 0 {
		x.iov[x.niov] = syscall.Iovec{Base: unsafe.SliceData(p)}
		x.iov[x.niov].SetLen(len(p))
		x.niov++
	}
}

// readIov reads into the x.niov buffers of x.iov with one system call.
func (x *rxReader) readIov() (int, error) {
	if x.err != nil {
		return 0, x.err
	}
	err := x.rc.Read(x.call)
	n, errno := x.n, x.errno
	x.iov = [rxIovMax]syscall.Iovec{} // no pointers into the caller's memory kept
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

// ReadRun is Read for the payload of a tagged FPDU that more FPDUs of the
// same message are predicted to follow, back to back: each with the
// header hdr (ULPDU_Length and tagged DDP/RDMAP header, as the current
// FPDU's) but for its TO, step bytes further each time, and a payload as
// long as dst. When nothing is buffered, each readv(2) reads after dst,
// for each ahead[i] in turn, the gap before it (gap bytes: PAD and CRC
// of the FPDU before, then the header, at hdrAt) and then ahead[i]
// itself, and last the usual look-ahead. A stream that holds a whole run
// then costs one system call for several FPDUs instead of one each.
//
// A header read in a gap is taken when it has the predicted STag and TO
// and a payload no longer than predicted; a shorter one, or one with the
// Last flag, ends the run after its payload. Anything else ends the run
// at that header. Bytes read past where the run ended are put back in
// front of the stream, copied into the buffer; the predicted memory they
// were read into then holds stream bytes, so the caller must predict
// only into memory that may hold garbage until the message has written
// it. Trailers inside a run are skipped unchecked: runs are for streams
// without CRC.
//
// It returns when dst is full, with what it took besides (runResult).
func (x *rxReader) ReadRun(dst []byte, ahead [][]byte, hdr []byte, step uint64, gap, hdrAt int) (res runResult, copied int, err error) {
	if len(ahead) > rxAhead || gap > rxGapMax || hdrAt+len(hdr) != gap || len(hdr) != 2+TaggedHeaderLen {
		panic("iwarp: bad run")
	}
	res.part = -1
	for len(dst) > 0 {
		if x.w > x.r {
			n := copy(dst, x.buf[x.r:x.w])
			x.r += n
			copied += n
			dst = dst[n:]
			continue
		}
		if len(dst) < rxDirectMin {
			n, err := x.Read(dst)
			return res, copied + n, err
		}
		x.r, x.w = 0, 0
		x.niov = 0
		x.addIov(dst)
		for i, a := range ahead {
			x.addIov(x.gaps[i][:gap])
			x.addIov(a)
		}
		x.addIov(x.la[:])
		m, err := x.readIov()
		if err != nil {
			return res, copied, err
		}
		if m <= len(dst) {
			dst = dst[m:]
			continue
		}
		x.takeRun(&res, ahead, hdr, step, gap, hdrAt, m-len(dst))
		return res, copied, nil
	}
	return res, copied, nil
}

// runResult is what a run read took beyond its first payload: whole
// FPDUs (their payload bytes in all, the ULPDU_Length and Last flag of
// the last one) and, when part >= 0, the header of one more whose payload
// of partLen bytes has only its first part bytes in place.
type runResult struct {
	whole, bytes int
	ul           int
	last         bool
	part         int
	partLen      int
	partUL       int
	partLast     bool
}

// takeRun sorts out the rest bytes a run read brought beyond its first
// payload (see ReadRun).
func (x *rxReader) takeRun(res *runResult, ahead [][]byte, hdr []byte, step uint64, gap, hdrAt, rest int) {
	for i, a := range ahead {
		if rest < gap {
			x.push(x.gaps[i][:rest])
			return
		}
		ok, last, n := runHeader(x.gaps[i][hdrAt:gap], hdr, step*uint64(i+1), len(a))
		if !ok {
			x.pushFrom(ahead, i, rest, gap)
			return
		}
		rest -= gap
		p := min(rest, len(a))
		rest -= p
		if p < n {
			res.part, res.partLen, res.partUL, res.partLast = p, n, n+TaggedHeaderLen, last
			return
		}
		res.whole++
		res.bytes += n
		res.ul, res.last = n+TaggedHeaderLen, last
		if n < len(a) || last {
			x.push(a[n:p])
			x.pushFrom(ahead, i+1, rest, gap)
			return
		}
	}
	x.push(x.la[:rest])
}

// runHeader checks a header read in a run against the predicted one,
// whose TO is the first's plus off and whose payload is max bytes: the
// same header, but for the Last flag and a payload that may be shorter.
// It returns the header's Last flag and payload length.
func runHeader(got, want []byte, off uint64, max int) (ok, last bool, n int) {
	if got[2]&^ddpLast != want[2]&^ddpLast || got[3] != want[3] || string(got[4:8]) != string(want[4:8]) ||
		binary.BigEndian.Uint64(got[8:]) != binary.BigEndian.Uint64(want[8:])+off {
		return false, false, 0
	}
	n = int(binary.BigEndian.Uint16(got)) - TaggedHeaderLen
	return n >= 0 && n <= max, got[2]&ddpLast != 0, n
}

// push appends read bytes to the buffer, after what it holds.
func (x *rxReader) push(p []byte) {
	x.w += copy(x.buf[x.w:], p)
}

// pushFrom puts back, in stream order, the rest bytes a run read brought
// from gap i on: gaps, predicted payloads, then the look-ahead.
func (x *rxReader) pushFrom(ahead [][]byte, i, rest, gap int) {
	for ; i < len(ahead) && rest > 0; i++ {
		g := min(rest, gap)
		x.push(x.gaps[i][:g])
		rest -= g
		p := min(rest, len(ahead[i]))
		x.push(ahead[i][:p])
		rest -= p
	}
	x.push(x.la[:rest])
}
