package smb2

import (
	"fmt"
	"strings"
)

// EA is one extended attribute: an entry of a FILE_FULL_EA_INFORMATION list
// ([MS-FSCC] 2.4.15 FileFullEaInformation), which SET_INFO sends, QUERY_INFO
// returns and a CREATE context ("ExtA") carries.
//
// An EA name is 1..255 bytes of 8-bit characters without NUL; a value is at
// most 65535 bytes. An empty value in SET_INFO deletes the EA.
type EA struct {
	Name  string
	Value []byte // decoded values alias the input buffer
	Flags uint8  // EAFlagNeedEA
}

// EAFlagNeedEA marks an EA the file cannot be understood without
// (FILE_NEED_EA).
const EAFlagNeedEA uint8 = 0x80

// EA limits of the wire format.
const (
	EANameMax  = 255
	EAValueMax = 65535
)

// ValidateEA checks that a name and value fit the wire format.
func ValidateEA(name string, value []byte) error {
	if len(name) == 0 || len(name) > EANameMax {
		return fmt.Errorf("smb2: EA name of %d bytes, want 1..%d", len(name), EANameMax)
	}
	if strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("smb2: EA name %q contains NUL", name)
	}
	if len(value) > EAValueMax {
		return fmt.Errorf("smb2: EA value of %d bytes, want at most %d", len(value), EAValueMax)
	}
	return nil
}

// ValidateEAList checks every EA of a list with ValidateEA.
func ValidateEAList(eas []EA) error {
	for i := range eas {
		if err := ValidateEA(eas[i].Name, eas[i].Value); err != nil {
			return err
		}
	}
	return nil
}

// eaEntrySize is the unpadded size of one FILE_FULL_EA_INFORMATION entry:
// NextEntryOffset (4), Flags (1), EaNameLength (1), EaValueLength (2), the
// name, its NUL and the value.
func eaEntrySize(e *EA) int { return 8 + len(e.Name) + 1 + len(e.Value) }

// eaPad4 returns n rounded up to a multiple of 4.
func eaPad4(n int) int { return (n + 3) &^ 3 }

// EAListSize is the number of bytes AppendEAList adds for eas.
func EAListSize(eas []EA) int {
	n := 0
	for i := range eas {
		if i < len(eas)-1 {
			n += eaPad4(eaEntrySize(&eas[i]))
		} else {
			n += eaEntrySize(&eas[i])
		}
	}
	return n
}

// AppendEAList appends eas as a FILE_FULL_EA_INFORMATION list: entries
// chained by NextEntryOffset and aligned to 4 bytes, the last one unpadded
// with NextEntryOffset 0. The list must pass ValidateEAList; a name or value
// beyond the wire limits is a programming error and panics.
func AppendEAList(b []byte, eas []EA) []byte {
	if err := ValidateEAList(eas); err != nil {
		panic(err)
	}
	for i := range eas {
		e := &eas[i]
		sz := eaEntrySize(e)
		next := 0
		if i < len(eas)-1 {
			next = eaPad4(sz)
		}
		b = ap32(b, uint32(next))
		b = append(b, e.Flags, byte(len(e.Name)))
		b = ap16(b, uint16(len(e.Value)))
		b = append(b, e.Name...)
		b = append(b, 0)
		b = append(b, e.Value...)
		if next > 0 {
			b = appendZeros(b, next-sz)
		}
	}
	return b
}

// ParseEAList decodes a FILE_FULL_EA_INFORMATION list. Every entry must lie
// inside b and before the next one; NextEntryOffset must move forward.
// Values alias b. An empty buffer is an empty list.
func ParseEAList(b []byte) ([]EA, error) {
	var out []EA
	err := infoWalk("FileFullEaInformation", b, 8, func(e []byte) error {
		nl, vl := int(e[5]), int(le16(e[6:]))
		if 8+nl+1+vl > len(e) {
			return malformed("FileFullEaInformation: entry of %d bytes holds name %d and value %d",
				len(e), nl, vl)
		}
		ea := EA{Name: string(e[8 : 8+nl]), Flags: e[4]}
		if vl > 0 {
			ea.Value = e[8+nl+1 : 8+nl+1+vl]
		}
		out = append(out, ea)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetEAListSize is the number of bytes AppendGetEAList adds for names.
func GetEAListSize(names []string) int {
	n := 0
	for i, name := range names {
		sz := 5 + len(name) + 1
		if i < len(names)-1 {
			sz = eaPad4(sz)
		}
		n += sz
	}
	return n
}

// AppendGetEAList appends names as a FILE_GET_EA_INFORMATION list
// ([MS-FSCC] 2.4.15.1): NextEntryOffset (4), EaNameLength (1) and the name
// with its NUL, aligned to 4 bytes. It is the input buffer of a QUERY_INFO
// for FileFullEaInformation that asks for the named EAs only. Every name
// must pass ValidateEA; one that does not panics.
func AppendGetEAList(b []byte, names []string) []byte {
	for i, name := range names {
		if err := ValidateEA(name, nil); err != nil {
			panic(err)
		}
		sz := 5 + len(name) + 1
		next := 0
		if i < len(names)-1 {
			next = eaPad4(sz)
		}
		b = ap32(b, uint32(next))
		b = append(b, byte(len(name)))
		b = append(b, name...)
		b = append(b, 0)
		if next > 0 {
			b = appendZeros(b, next-sz)
		}
	}
	return b
}

// ParseGetEAList decodes a FILE_GET_EA_INFORMATION list (for tests and
// fake servers).
func ParseGetEAList(b []byte) ([]string, error) {
	var out []string
	err := infoWalk("FILE_GET_EA_INFORMATION", b, 5, func(e []byte) error {
		nl := int(e[4])
		if 5+nl+1 > len(e) {
			return malformed("FILE_GET_EA_INFORMATION: entry of %d bytes holds name %d", len(e), nl)
		}
		out = append(out, string(e[5:5+nl]))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
