package session

import (
	"context"
	"fmt"

	"github.com/smbd3/mount.smbd3/session/internal/ntlm"
	"github.com/smbd3/mount.smbd3/session/internal/smbcrypto"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

// setup authenticates on c with NTLMv2 in SPNEGO ([MS-SMB2] 3.2.4.2.3) and
// derives the session's keys ([MS-SMB2] 3.2.5.3.1).
func (s *Session) setup(ctx context.Context, c *conn) error {
	nc := &ntlm.Client{User: s.cfg.User, Password: s.cfg.Password, Domain: s.cfg.Domain, Anonymous: s.cfg.Anonymous}
	preauth := c.preauth
	token := ntlm.WrapNegTokenInit(nc.Negotiate())
	secMode := uint8(s.securityMode())
	var sessionID uint64
	for round := 0; ; round++ {
		if round > 4 {
			return fmt.Errorf("%w: too many SESSION_SETUP rounds", ErrAuth)
		}
		r := &request{cmd: smb2.CmdSessionSetup, body: &smb2.SessionSetupRequest{
			SecurityMode: secMode, SecurityBuffer: token,
		}}
		calls, err := c.send(ctx, security{sessionID: sessionID}, r)
		if err != nil {
			return err
		}
		cl := calls[0]
		if err := c.wait(ctx, cl); err != nil {
			return err
		}
		if err := statusErr(cl); err != nil {
			cl.release()
			return fmt.Errorf("%w: %w", ErrAuth, err)
		}
		var resp smb2.SessionSetupResponse
		if err := resp.Unmarshal(cl.body); err != nil {
			cl.release()
			return fmt.Errorf("%w: %w", ErrAuth, err)
		}
		if c.dialect == smb2.Dialect311 {
			preauth.Update(cl.sent)
		}
		sessionID = cl.hdr.SessionID
		if cl.hdr.Status == smb2.StatusMoreProcessingRequired {
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
		// STATUS_SUCCESS: the session is established. A server that sends
		// a mechListMIC must have computed it with the same keys as we did.
		if _, _, mic, err := ntlm.ParseNegTokenResp(resp.SecurityBuffer); err == nil && len(mic) > 0 && !s.cfg.Anonymous {
			if !nc.VerifyMechListMIC(mic) {
				cl.release()
				return fmt.Errorf("%w: server's SPNEGO mechListMIC does not verify", ErrAuth)
			}
		}
		s.id = sessionID
		s.dialect = c.dialect
		s.guest = resp.SessionFlags&smb2.SessionFlagIsGuest != 0
		s.null = resp.SessionFlags&smb2.SessionFlagIsNull != 0 || s.cfg.Anonymous
		s.encrypt = resp.SessionFlags&smb2.SessionFlagEncryptData != 0 || s.cfg.Seal
		err = s.deriveKeys(c, nc.SessionKey(), preauth[:])
		if err == nil && cl.hdr.Flags&smb2.FlagSigned != 0 && s.signer != nil {
			if !s.signer.Verify(cl.raw) {
				err = fmt.Errorf("%w: final SESSION_SETUP response", ErrBadSignature)
			}
		}
		cl.release()
		if err != nil {
			return err
		}
		break
	}
	if (s.guest || s.null) && (c.secMode&smb2.SigningRequired != 0 || s.cfg.Sign) {
		return ErrSigningNeeded
	}
	if s.encrypt && (s.enc == nil || s.guest || s.null) {
		return fmt.Errorf("%w: encryption requested but not available (dialect %s, guest %v)", ErrNotSupported, s.dialect, s.guest)
	}
	s.signing = !s.guest && !s.null && (c.secMode&smb2.SigningRequired != 0 || s.cfg.Sign)
	c.verify.Store(s.sec())
	c.requireSigned.Store(s.signing && !s.encrypt)
	s.log.Debug("session established", "id", fmt.Sprintf("%#x", s.id), "guest", s.guest, "null", s.null,
		"signing", s.signing, "encrypt", s.encrypt)
	return nil
}

func (s *Session) deriveKeys(c *conn, key, preauth []byte) error {
	if s.guest || s.null || len(key) == 0 {
		return nil
	}
	s.keys = smbcrypto.DeriveKeys(uint16(c.dialect), c.cipherID, key, preauth)
	var err error
	if s.signer, err = smbcrypto.NewSigner(c.signAlgo, s.keys.Signing); err != nil {
		return err
	}
	if c.cipherID != 0 {
		if s.enc, err = smbcrypto.NewCipher(c.cipherID, s.keys.Encryption); err != nil {
			return err
		}
		if s.dec, err = smbcrypto.NewCipher(c.cipherID, s.keys.Decryption); err != nil {
			return err
		}
	}
	return nil
}

// sec is how requests of this session go out when they need no tree's
// encryption: sealed when the session is, else signed when signing is on.
func (s *Session) sec() *security {
	return &security{
		sessionID: s.id,
		signer:    s.signer,
		sign:      s.signing,
		cipher:    s.sealWith(s.encrypt),
		decipher:  s.dec,
	}
}

func (s *Session) sealWith(on bool) *smbcrypto.Cipher {
	if on {
		return s.enc
	}
	return nil
}

// answerChallenge turns the server's SPNEGO token carrying the NTLM
// CHALLENGE into the next SESSION_SETUP token (AUTHENTICATE and our
// mechListMIC); the first channel and bindings share it.
func answerChallenge(nc *ntlm.Client, secBuf []byte) ([]byte, error) {
	_, mech, _, err := ntlm.ParseNegTokenResp(secBuf)
	if err != nil {
		return nil, fmt.Errorf("%w: server's SPNEGO token: %v", ErrAuth, err)
	}
	auth, err := nc.Authenticate(mech)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAuth, err)
	}
	return ntlm.WrapNegTokenResp(auth, nc.MechListMIC()), nil
}
