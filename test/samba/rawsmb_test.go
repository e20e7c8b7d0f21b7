package samba_test

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
	"unicode/utf16"
)

// rawSMB is the least SMB2 client that lets these tests see what the server
// advertises without depending on the project's own client, which is tested against
// this harness: NEGOTIATE (2.0.2 to 3.0.2, so no negotiate contexts), an anonymous
// NTLMSSP SESSION_SETUP, TREE_CONNECT to IPC$ and one IOCTL, all unsigned.
type rawSMB struct {
	t       *testing.T
	c       net.Conn
	msgID   uint64
	session uint64
	tree    uint32
}

// SMB2 commands and status codes used here ([MS-SMB2] 2.2.1, [MS-ERREF]).
const (
	cmdNegotiate    = 0x0
	cmdSessionSetup = 0x1
	cmdTreeConnect  = 0x3
	cmdIoctl        = 0xb

	statusMoreProcessing = 0xc0000016

	signingRequired = 0x0002 // NEGOTIATE SecurityMode
	capMultiChannel = 0x0008 // NEGOTIATE Capabilities
	capEncryption   = 0x0040

	fsctlQueryNetworkInterfaceInfo = 0x001401fc
	ifaceRSS                       = 0x1
	ifaceRDMA                      = 0x2
)

var le = binary.LittleEndian

func dialRaw(t *testing.T, addr string) *rawSMB {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawSMB{t: t, c: c}
}

// call sends one request and returns the response status and whole message.
func (r *rawSMB) call(cmd uint16, body []byte) (status uint32, msg []byte) {
	r.t.Helper()
	h := make([]byte, 64, 64+len(body))
	copy(h, "\xfeSMB")
	le.PutUint16(h[4:], 64) // StructureSize
	le.PutUint16(h[6:], 1)  // CreditCharge
	le.PutUint16(h[12:], cmd)
	le.PutUint16(h[14:], 16) // CreditRequest
	le.PutUint64(h[24:], r.msgID)
	le.PutUint32(h[36:], r.tree)
	le.PutUint64(h[40:], r.session)
	r.msgID++
	m := append(h, body...)
	if _, err := r.c.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(m))), m...)); err != nil {
		r.t.Fatal(err)
	}
	var frame [4]byte
	if _, err := io.ReadFull(r.c, frame[:]); err != nil {
		r.t.Fatal(err)
	}
	msg = make([]byte, binary.BigEndian.Uint32(frame[:])&0xffffff)
	if _, err := io.ReadFull(r.c, msg); err != nil {
		r.t.Fatal(err)
	}
	if len(msg) < 64+8 || string(msg[:4]) != "\xfeSMB" || le.Uint16(msg[12:]) != cmd {
		r.t.Fatalf("bad response to command %#x: % x", cmd, msg)
	}
	return le.Uint32(msg[8:]), msg
}

// negotiate returns the server's SecurityMode, Capabilities and chosen dialect
// ([MS-SMB2] 2.2.3, 2.2.4).
func (r *rawSMB) negotiate() (secMode uint16, caps uint32, dialect uint16) {
	r.t.Helper()
	dialects := []uint16{0x0202, 0x0210, 0x0300, 0x0302}
	b := make([]byte, 36, 36+2*len(dialects))
	le.PutUint16(b[0:], 36)
	le.PutUint16(b[2:], uint16(len(dialects)))
	le.PutUint16(b[4:], 1)    // SIGNING_ENABLED
	le.PutUint32(b[8:], 0x7f) // every capability: Samba only offers what the client does
	copy(b[12:28], "mount.smbd3-test")
	for _, d := range dialects {
		b = le.AppendUint16(b, d)
	}
	st, msg := r.call(cmdNegotiate, b)
	if st != 0 || len(msg) < 64+28 {
		r.t.Fatalf("negotiate: status %#x", st)
	}
	body := msg[64:]
	return le.Uint16(body[2:]), le.Uint32(body[24:]), le.Uint16(body[4:])
}

// sessionSetup sends one SESSION_SETUP with a raw NTLMSSP token (Samba's SPNEGO
// layer accepts one without the SPNEGO wrapping).
func (r *rawSMB) sessionSetup(token []byte) (status uint32, msg []byte) {
	b := make([]byte, 24, 24+len(token))
	le.PutUint16(b[0:], 25)
	b[3] = 1                    // SecurityMode: signing enabled
	le.PutUint16(b[12:], 64+24) // SecurityBufferOffset
	le.PutUint16(b[14:], uint16(len(token)))
	return r.call(cmdSessionSetup, append(b, token...))
}

// anonymousLogon sets up a null session ([MS-NLMP] 3.2.5.1.2: empty user and NT
// response, one zero byte of LM response).
func (r *rawSMB) anonymousLogon() {
	r.t.Helper()
	const flags = 0x00000001 | 0x00000004 | 0x00000200 | 0x00000800 | 0x00008000 | 0x00080000
	neg := make([]byte, 32)
	copy(neg, "NTLMSSP\x00")
	le.PutUint32(neg[8:], 1)
	le.PutUint32(neg[12:], flags)
	st, msg := r.sessionSetup(neg)
	if st != statusMoreProcessing {
		r.t.Fatalf("session setup 1: status %#x", st)
	}
	r.session = le.Uint64(msg[40:])

	auth := make([]byte, 65)
	copy(auth, "NTLMSSP\x00")
	le.PutUint32(auth[8:], 3)
	le.PutUint16(auth[12:], 1) // LmChallengeResponse: 1 byte at 64
	le.PutUint16(auth[14:], 1)
	le.PutUint32(auth[16:], 64)
	for off := 20; off < 60; off += 8 { // NT response, domain, user, workstation, session key: empty, at 65
		le.PutUint32(auth[off+4:], 65)
	}
	le.PutUint32(auth[60:], flags)
	if st, _ = r.sessionSetup(auth); st != 0 {
		r.t.Fatalf("anonymous session setup: status %#x", st)
	}
}

func (r *rawSMB) treeConnect(path string) {
	r.t.Helper()
	p := utf16.Encode([]rune(path))
	b := make([]byte, 8, 8+2*len(p))
	le.PutUint16(b[0:], 9)
	le.PutUint16(b[4:], 64+8) // PathOffset
	le.PutUint16(b[6:], uint16(2*len(p)))
	for _, u := range p {
		b = le.AppendUint16(b, u)
	}
	st, msg := r.call(cmdTreeConnect, b)
	if st != 0 {
		r.t.Fatalf("tree connect %s: status %#x", path, st)
	}
	r.tree = le.Uint32(msg[36:])
}

type netIface struct {
	IfIndex    uint32
	Capability uint32
	Speed      uint64
	Addr       netip.Addr
}

// queryInterfaces issues FSCTL_QUERY_NETWORK_INTERFACE_INFO ([MS-SMB2] 2.2.31,
// 2.2.32.5) and returns the IPv4 entries.
func (r *rawSMB) queryInterfaces() []netIface {
	r.t.Helper()
	b := make([]byte, 57)
	le.PutUint16(b[0:], 57)
	le.PutUint32(b[4:], fsctlQueryNetworkInterfaceInfo)
	for i := 8; i < 24; i++ {
		b[i] = 0xff // FileId: none
	}
	le.PutUint32(b[24:], 64+56) // InputOffset
	le.PutUint32(b[36:], 64+56) // OutputOffset
	le.PutUint32(b[44:], 65536) // MaxOutputResponse
	le.PutUint32(b[48:], 1)     // SMB2_0_IOCTL_IS_FSCTL
	st, msg := r.call(cmdIoctl, b)
	if st != 0 || len(msg) < 64+48 {
		r.t.Fatalf("FSCTL_QUERY_NETWORK_INTERFACE_INFO: status %#x", st)
	}
	off, n := int(le.Uint32(msg[64+32:])), int(le.Uint32(msg[64+36:]))
	if off+n > len(msg) {
		r.t.Fatalf("ioctl output %d+%d beyond %d bytes", off, n, len(msg))
	}
	var out []netIface
	for e := msg[off : off+n]; len(e) >= 152; {
		if le.Uint16(e[24:]) == 2 { // InterNetwork
			out = append(out, netIface{
				IfIndex:    le.Uint32(e[4:]),
				Capability: le.Uint32(e[8:]),
				Speed:      le.Uint64(e[16:]),
				Addr:       netip.AddrFrom4([4]byte(e[28:32])),
			})
		}
		next := le.Uint32(e)
		if next == 0 || int(next) > len(e) {
			break
		}
		e = e[next:]
	}
	return out
}
