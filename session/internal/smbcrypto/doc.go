// Package smbcrypto is the cryptography of SMB 3.x ([MS-SMB2]): key
// derivation, message signing, message encryption and the pre-authentication
// integrity hash. It is pure computation: no I/O, no goroutines, no locks
// beyond what makes its values safe to share.
//
// What comes from where:
//   - KDF is the SP800-108 counter-mode KDF with HMAC-SHA256 that
//     [MS-SMB2] 3.1.4.2 prescribes; DeriveKeys applies it with the labels and
//     contexts of [MS-SMB2] 3.2.5.3.1 (client) / 3.3.5.5.3 (server) for the
//     3.0, 3.0.2 and 3.1.1 dialects.
//   - Signer signs and verifies one SMB2 message ([MS-SMB2] 3.1.4.1 and
//     3.1.5.1) with HMAC-SHA256 (2.0.2, 2.1), AES-128-CMAC ([RFC4493], built
//     here on crypto/aes) or AES-128-GMAC ([RFC4543], GCM with an empty
//     plaintext). Signers are safe for concurrent use and do not allocate in
//     the steady state.
//   - Cipher builds and opens the SMB2 TRANSFORM_HEADER ([MS-SMB2] 2.2.41,
//     3.1.4.3, 3.2.5.1.1.1) with AES-128/256-GCM (crypto/cipher) or
//     AES-128/256-CCM (NewCCM, NIST SP 800-38C / [RFC3610], built here on
//     crypto/aes).
//   - PreauthHash is the SHA-512 chain of [MS-SMB2] 3.2.5.2 / 3.3.5.4 used as
//     the KDF context for 3.1.1.
//
// The tests check every value against published vectors: Microsoft's Open
// Specifications blog posts on SMB 3 keys, SMB 3.0 and 3.1.1 encryption and
// pre-authentication integrity; RFC 4493 for CMAC; SP 800-38C and RFC 3610
// for CCM.
package smbcrypto
