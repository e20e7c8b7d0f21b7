// Package ntlm is the client side of NTLMv2 authentication ([MS-NLMP])
// carried in SPNEGO ([RFC4178], [MS-SPNG]), as SMB 2/3 SESSION_SETUP uses it
// ([MS-SMB2] 3.2.5.3). It is pure computation: the caller moves the tokens.
//
// A session setup with NTLM goes:
//
//	c := &ntlm.Client{User: "alice", Password: "…", Domain: "CORP"}
//	tok := ntlm.WrapNegTokenInit(c.Negotiate())       // 1st SESSION_SETUP request
//	state, challenge, _, err := ntlm.ParseNegTokenResp(resp1)
//	auth, err := c.Authenticate(challenge)
//	tok = ntlm.WrapNegTokenResp(auth, c.MechListMIC()) // 2nd request
//	key := c.SessionKey()                              // for SMB 3 key derivation
//
// Messages follow [MS-NLMP] 2.2.1 (NEGOTIATE_MESSAGE, CHALLENGE_MESSAGE,
// AUTHENTICATE_MESSAGE); the responses, keys and MIC follow 3.1.5.1.2 and
// 3.3.2 (NTLMv2 only: no LM, no NTLMv1); the mechListMIC is the NTLM
// signature of 3.4.4.2 with extended session security. The CHALLENGE_MESSAGE
// and the SPNEGO tokens come from the server and are decoded as hostile
// input: every length and offset is checked and no input makes the decoders
// panic.
package ntlm
