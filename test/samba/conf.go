package samba

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Options selects the server configuration. The zero value is a plain read-write
// share that needs the user's password, offers SMB2_10 to SMB3_11 and does not
// advertise multichannel.
type Options struct {
	SigningMandatory bool        // server signing = mandatory
	EncryptRequired  bool        // server smb encrypt = required, globally (every session is encrypted); for a share-only requirement use ExtraShare{"smb encrypt": "required"}
	ReadOnly         bool        // read only = yes on the share
	Guest            bool        // guest ok = yes on the share, map to guest = bad user
	MaxProtocol      string      // server max protocol, e.g. "SMB3_00"; default SMB3_11
	MultiChannel     bool        // server multi channel support = yes (otherwise explicitly no, although 4.17 defaults to yes)
	Interfaces       []Interface // extra loopback addresses, added to lo and listed in "interfaces"
	ExtraGlobal      map[string]string
	ExtraShare       map[string]string // ExtraGlobal and ExtraShare lines replace the harness's line of the same parameter name
}

// Interface is one extra address smbd listens on and reports to multichannel
// clients. Addr must be in 127.0.0.0/8; "127.0.0.1" is allowed to give the default
// address speed or capabilities. The zero SpeedBps and IfIndex let Samba detect them.
type Interface struct {
	Addr     string // e.g. "127.0.0.2"
	SpeedBps uint64 // link speed in bits per second
	RSS      bool   // capability=RSS
	RDMA     bool   // capability=RDMA
	IfIndex  uint32 // if_index=N; must not coincide with a kernel interface index
}

// spec renders the interface in the extended syntax of smb.conf(5):
// "127.0.0.2;speed=1000000000,capability=RSS".
func (i Interface) spec() string {
	var kv []string
	if i.IfIndex != 0 {
		kv = append(kv, "if_index="+strconv.FormatUint(uint64(i.IfIndex), 10))
	}
	if i.SpeedBps != 0 {
		kv = append(kv, "speed="+strconv.FormatUint(i.SpeedBps, 10))
	}
	if i.RSS {
		kv = append(kv, "capability=RSS")
	}
	if i.RDMA {
		kv = append(kv, "capability=RDMA")
	}
	if len(kv) == 0 {
		return i.Addr
	}
	return `"` + i.Addr + ";" + strings.Join(kv, ",") + `"`
}

// protocols in order, for keeping "server min protocol" at or below the maximum.
var protocols = map[string]int{"NT1": 1, "SMB2_02": 2, "SMB2": 3, "SMB2_10": 3, "SMB3_00": 4, "SMB3_02": 5, "SMB3": 6, "SMB3_11": 6}

const defaultMinProtocol = "SMB2_10"

func (o *Options) validate() error {
	if o.MaxProtocol != "" {
		if _, ok := protocols[strings.ToUpper(o.MaxProtocol)]; !ok {
			return fmt.Errorf("unknown MaxProtocol %q", o.MaxProtocol)
		}
	}
	seen := map[netip.Addr]bool{}
	for _, i := range o.Interfaces {
		a, err := netip.ParseAddr(i.Addr)
		if err != nil || !a.Is4() || !a.IsLoopback() {
			return fmt.Errorf("interface address %q is not an IPv4 loopback address", i.Addr)
		}
		if seen[a] {
			return fmt.Errorf("interface address %s listed twice", a)
		}
		seen[a] = true
	}
	for _, m := range []map[string]string{o.ExtraGlobal, o.ExtraShare} {
		for k, v := range m {
			if strings.ContainsAny(k+v, "\n\r") || strings.ContainsAny(k, "=[]") {
				return fmt.Errorf("bad smb.conf line %q = %q", k, v)
			}
		}
	}
	return nil
}

// section is an ordered list of smb.conf parameters.
type section []param

type param struct{ name, value string }

// paramKey folds a parameter name the way Samba compares them: case and white space
// do not matter.
func paramKey(name string) string {
	return strings.ToLower(strings.Join(strings.Fields(name), ""))
}

// set replaces the parameter of the same name or appends it.
func (s *section) set(name, value string) {
	for i := range *s {
		if paramKey((*s)[i].name) == paramKey(name) {
			(*s)[i].value = value
			return
		}
	}
	*s = append(*s, param{name, value})
}

// merge applies extra parameters in sorted order, so the file is deterministic.
func (s *section) merge(extra map[string]string) {
	names := make([]string, 0, len(extra))
	for n := range extra {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s.set(strings.TrimSpace(n), strings.TrimSpace(extra[n]))
	}
}

func (s section) render(b *strings.Builder, name string) {
	fmt.Fprintf(b, "[%s]\n", name)
	for _, p := range s {
		fmt.Fprintf(b, "\t%s = %s\n", p.name, p.value)
	}
	b.WriteString("\n")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// config renders the smb.conf of s. Every path smbd, its helpers and the client
// tools would take from the build defaults is pointed into s.root.
func (s *Server) config() string {
	o := &s.opts
	dir := func(name string) string { return filepath.Join(s.root, name) }

	ifaces := []string{"127.0.0.1"}
	for _, i := range o.Interfaces {
		if i.Addr == "127.0.0.1" {
			ifaces[0] = i.spec()
		} else {
			ifaces = append(ifaces, i.spec())
		}
	}
	maxProto := "SMB3_11"
	if o.MaxProtocol != "" {
		maxProto = strings.ToUpper(o.MaxProtocol)
	}
	minProto := defaultMinProtocol
	if protocols[maxProto] < protocols[minProto] {
		minProto = maxProto
	}
	signing, encrypt, mapToGuest := "default", "default", "never"
	if o.SigningMandatory {
		signing = "mandatory"
	}
	if o.EncryptRequired {
		encrypt = "required"
	}
	if o.Guest {
		mapToGuest = "bad user"
	}

	g := section{
		{"server role", "standalone server"},
		{"security", "user"},
		{"workgroup", "WORKGROUP"},
		{"netbios name", netbiosName},
		{"server string", "mount.smbd3 test server"},
		{"smb ports", strconv.Itoa(s.Port)},
		{"interfaces", strings.Join(ifaces, " ")},
		{"bind interfaces only", "yes"},
		{"disable netbios", "yes"},
		{"server min protocol", minProto},
		{"server max protocol", maxProto},
		{"server multi channel support", yesNo(o.MultiChannel)},
		{"server signing", signing},
		{"server smb encrypt", encrypt},
		{"map to guest", mapToGuest},
		{"guest account", userName},
		{"passdb backend", "tdbsam"},
		{"unix password sync", "no"},
		{"obey pam restrictions", "no"},
		{"load printers", "no"},
		{"printing", "bsd"},
		{"printcap name", "/dev/null"},
		{"disable spoolss", "yes"},
		{"private dir", dir("private")},
		{"lock directory", dir("lock")},
		{"state directory", dir("state")},
		{"cache directory", dir("cache")},
		{"pid directory", dir("pid")},
		{"ncalrpc dir", dir("ncalrpc")},
		{"binddns dir", dir("binddns")},
		{"winbindd socket directory", dir("winbindd")},
		{"usershare path", dir("usershares")},
		{"log file", dir("log/samba.log")},
		{"max log size", "0"},
		{"log level", "1"},
	}
	g.merge(o.ExtraGlobal)

	sh := section{
		{"path", s.Dir},
		{"read only", yesNo(o.ReadOnly)},
		{"guest ok", yesNo(o.Guest)},
		{"browseable", "yes"},
		{"create mask", "0664"},
		{"directory mask", "0775"},
	}
	sh.merge(o.ExtraShare)

	var b strings.Builder
	b.WriteString("# smb.conf written by mount.smbd3 test/samba; see smb.conf(5).\n")
	g.render(&b, "global")
	sh.render(&b, s.Share)
	return b.String()
}
