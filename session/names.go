package session

import (
	"strings"
	"unicode/utf8"
)

// CharMap says how characters that POSIX allows in a name and SMB does not
// travel: the seven reserved characters " * : < > ? |, the backslash (the
// SMB path separator), control characters and a trailing space or period.
// Without a mapping the server refuses such a name, or — for a backslash —
// takes it as a path separator and reaches another file.
type CharMap uint8

const (
	// MapNone sends names as they are.
	MapNone CharMap = iota
	// MapSFM is the Services for Macintosh mapping (what macOS and Linux
	// cifs, as "mapposix", use): the characters go to the private-use
	// range U+F001–U+F029; Samba's vfs_fruit and vfs_catia know it.
	MapSFM
	// MapSFU is the Services for Unix mapping (cifs' "mapchars"): the six
	// characters : * ? < > | go to U+F000 plus their code.
	MapSFU
)

func (m CharMap) String() string {
	switch m {
	case MapSFM:
		return "sfm"
	case MapSFU:
		return "sfu"
	}
	return "none"
}

// The SFM code points ([MS-KB] Q117258; 0x01–0x1F go to U+F001–U+F01F).
const (
	sfmQuote     = 0xF020
	sfmStar      = 0xF021
	sfmColon     = 0xF022
	sfmLess      = 0xF023
	sfmGreater   = 0xF024
	sfmQuestion  = 0xF025
	sfmBackslash = 0xF026
	sfmPipe      = 0xF027
	sfmSpace     = 0xF028 // a trailing space
	sfmPeriod    = 0xF029 // a trailing period
)

func sfmOut(c byte, last bool) rune {
	switch {
	case c >= 0x01 && c <= 0x1F:
		return 0xF000 + rune(c)
	case c == '"':
		return sfmQuote
	case c == '*':
		return sfmStar
	case c == ':':
		return sfmColon
	case c == '<':
		return sfmLess
	case c == '>':
		return sfmGreater
	case c == '?':
		return sfmQuestion
	case c == '\\':
		return sfmBackslash
	case c == '|':
		return sfmPipe
	case c == ' ' && last:
		return sfmSpace
	case c == '.' && last:
		return sfmPeriod
	}
	return 0
}

func sfmIn(r rune, last bool) byte {
	switch {
	case r >= 0xF001 && r <= 0xF01F:
		return byte(r - 0xF000)
	case r == sfmQuote:
		return '"'
	case r == sfmStar:
		return '*'
	case r == sfmColon:
		return ':'
	case r == sfmLess:
		return '<'
	case r == sfmGreater:
		return '>'
	case r == sfmQuestion:
		return '?'
	case r == sfmBackslash:
		return '\\'
	case r == sfmPipe:
		return '|'
	case r == sfmSpace && last:
		return ' '
	case r == sfmPeriod && last:
		return '.'
	}
	return 0
}

func sfuOut(c byte, _ bool) rune {
	switch c {
	case ':', '*', '?', '<', '>', '|':
		return 0xF000 + rune(c)
	}
	return 0
}

func sfuIn(r rune, _ bool) byte {
	switch r {
	case 0xF000 + ':', 0xF000 + '*', 0xF000 + '?', 0xF000 + '<', 0xF000 + '>', 0xF000 + '|':
		return byte(r - 0xF000)
	}
	return 0
}

// toWire maps one name (a path component, no '/') for the server.
func (m CharMap) toWire(name string) string {
	out := sfmOut
	switch m {
	case MapNone:
		return name
	case MapSFU:
		out = sfuOut
	}
	i := 0
	for ; i < len(name); i++ {
		if out(name[i], i == len(name)-1) != 0 {
			break
		}
	}
	if i == len(name) {
		return name // the common case: nothing to map, no allocation
	}
	var b strings.Builder
	b.Grow(len(name) + 8)
	b.WriteString(name[:i])
	for ; i < len(name); i++ {
		if r := out(name[i], i == len(name)-1); r != 0 {
			b.WriteRune(r)
		} else {
			b.WriteByte(name[i])
		}
	}
	return b.String()
}

// fromWire maps a name the server sent back to the local form. Only code
// points toWire makes are mapped back (U+F028/U+F029 only at the end), so
// fromWire(toWire(n)) == n for every name that has none of those code
// points itself.
func (m CharMap) fromWire(name string) string {
	in := sfmIn
	switch m {
	case MapNone:
		return name
	case MapSFU:
		in = sfuIn
	}
	// U+F000–U+F0FF encode as EF 80 xx .. EF 83 xx.
	if strings.IndexByte(name, 0xEF) < 0 {
		return name
	}
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); {
		r, n := utf8.DecodeRuneInString(name[i:])
		if c := in(r, i+n == len(name)); c != 0 {
			b.WriteByte(c)
		} else {
			b.WriteString(name[i : i+n])
		}
		i += n
	}
	return b.String()
}

// wirePath converts a '/'-separated share-relative path to the SMB form,
// mapping each component.
func (m CharMap) wirePath(p string) string {
	p = strings.Trim(p, "/")
	if m == MapNone {
		return strings.ReplaceAll(p, "/", `\`)
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; ; i++ {
		c, rest, more := strings.Cut(p, "/")
		if i > 0 {
			b.WriteByte('\\')
		}
		b.WriteString(m.toWire(c))
		if !more {
			break
		}
		p = rest
	}
	return b.String()
}
