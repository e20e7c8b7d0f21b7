package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/smbd3/mount.smbd3/session/internal/ntlm"
	"github.com/smbd3/mount.smbd3/session/internal/smbcrypto"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

// ErrBindRefused means the server would not bind a new channel to the
// session; the session goes on with the channels it has.
var ErrBindRefused = errors.New("smb: channel binding refused")

// addChannel dials addr, negotiates, and binds the new connection to the
// session ([MS-SMB2] 3.2.4.1.7, 3.2.5.3.3). The returned conn is ready but
// not yet in the channel set.
func (s *Session) addChannel(ctx context.Context, addr string, rdma bool) (*conn, error) {
	dial := s.cfg.Dial
	if rdma {
		dial = s.cfg.DialRDMA
	}
	c, err := s.dialConnVia(ctx, addr, dial)
	if err != nil {
		return nil, err
	}
	if err := s.sameNegotiation(c); err != nil {
		c.close()
		return nil, err
	}
	if err := s.bind(ctx, c); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// sameNegotiation drops a connection whose NEGOTIATE answer differs from
// the session's first connection ([MS-SMB2] 3.2.5.2): a different server,
// dialect, security mode or capabilities cannot carry this session.
func (s *Session) sameNegotiation(c *conn) error {
	f := s.first
	switch {
	case c.serverGUID != f.serverGUID:
		return fmt.Errorf("%w: %s has ServerGuid %x, the session's server %x", ErrBindRefused, c.addr, c.serverGUID, f.serverGUID)
	case c.dialect != f.dialect:
		return fmt.Errorf("%w: %s negotiated %s, the session %s", ErrBindRefused, c.addr, c.dialect, f.dialect)
	case c.secMode != f.secMode:
		return fmt.Errorf("%w: %s security mode %#x differs (%#x)", ErrBindRefused, c.addr, c.secMode, f.secMode)
	case c.caps != f.caps:
		return fmt.Errorf("%w: %s capabilities %#x differ (%#x)", ErrBindRefused, c.addr, c.caps, f.caps)
	case c.signAlgo != f.signAlgo || c.cipherID != f.cipherID:
		return fmt.Errorf("%w: %s negotiated other signing or encryption algorithms", ErrBindRefused, c.addr)
	}
	return nil
}

// bind runs the binding SESSION_SETUP exchange on c. Every leg is signed
// with the session's signing key and never encrypted; interim responses
// are verified with the session key; the final response with the new
// channel's key, which is derived from this exchange's NTLM session key:
// for 3.0/3.0.2 with the 3.0 labels, for 3.1.1 with the channel's own
// preauth hash (the new connection's NEGOTIATE hash, then every binding
// request and interim response, [MS-SMB2] 3.3.5.5.3).
func (s *Session) bind(ctx context.Context, c *conn) error {
	if s.signer == nil || s.guest || s.null {
		return fmt.Errorf("%w: guest and anonymous sessions cannot bind channels", ErrBindRefused)
	}
	nc := &ntlm.Client{User: s.cfg.User, Password: s.cfg.Password, Domain: s.cfg.Domain}
	preauth := c.preauth
	token := ntlm.WrapNegTokenInit(nc.Negotiate())
	sec := security{sessionID: s.id, signer: s.signer, sign: true}
	for round := 0; ; round++ {
		if round > 4 {
			return fmt.Errorf("%w: too many SESSION_SETUP rounds", ErrBindRefused)
		}
		r := &request{cmd: smb2.CmdSessionSetup, body: &smb2.SessionSetupRequest{
			Flags: smb2.SessionFlagBinding, SecurityMode: uint8(s.securityMode()), SecurityBuffer: token,
		}}
		cl, err := c.roundTrip(ctx, sec, r)
		if err != nil {
			if IsConnError(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return fmt.Errorf("%w: %w", ErrBindRefused, err)
		}
		if cl.hdr.SessionID != s.id {
			cl.release()
			return fmt.Errorf("%w: response for session %#x", ErrBindRefused, cl.hdr.SessionID)
		}
		var resp smb2.SessionSetupResponse
		if err := resp.Unmarshal(cl.body); err != nil {
			cl.release()
			return fmt.Errorf("%w: %w", ErrBindRefused, err)
		}
		if c.dialect == smb2.Dialect311 {
			preauth.Update(cl.sent)
		}
		if cl.hdr.Status == smb2.StatusMoreProcessingRequired {
			if cl.hdr.Flags&smb2.FlagSigned != 0 && !s.signer.Verify(cl.raw) {
				cl.release()
				return fmt.Errorf("%w: interim binding response", ErrBadSignature)
			}
			if c.dialect == smb2.Dialect311 {
				preauth.Update(cl.raw)
			}
			var err error
			token, err = answerChallenge(nc, resp.SecurityBuffer)
			cl.release()
			if err != nil {
				return err
			}
			continue
		}
		// Final response: it must be signed with the channel's key.
		keys := smbcrypto.DeriveKeys(uint16(c.dialect), c.cipherID, nc.SessionKey(), preauth[:])
		signer, err := smbcrypto.NewSigner(c.signAlgo, keys.Signing)
		if err == nil && (cl.hdr.Flags&smb2.FlagSigned == 0 || !signer.Verify(cl.raw)) {
			err = fmt.Errorf("%w: final binding response", ErrBadSignature)
		}
		if err == nil {
			if _, _, mic, e := ntlm.ParseNegTokenResp(resp.SecurityBuffer); e == nil && len(mic) > 0 && !nc.VerifyMechListMIC(mic) {
				err = fmt.Errorf("%w: server's SPNEGO mechListMIC does not verify", ErrAuth)
			}
		}
		cl.release()
		if err != nil {
			return err
		}
		c.chanSigner = signer
		v := *s.sec()
		v.signer = signer
		c.verify.Store(&v)
		c.requireSigned.Store(s.signing && !s.encrypt)
		s.log.Debug("channel bound", "addr", c.addr, "dialect", c.dialect)
		return nil
	}
}
