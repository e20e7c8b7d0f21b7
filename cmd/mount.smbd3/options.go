package main

// Option parsing for the mount helper. It follows mount.cifs(8) names and is
// pure: it reads the credentials file and the PASSWD_* sources it is pointed
// at, looks up user and group names, and nothing else.
//
// Sources of credentials, highest precedence first:
//
//  1. the command line: username=/user= (which may be written DOMAIN/user,
//     DOMAIN\user or user%password, mount.cifs's legacy forms), password=/pass=,
//     domain=/dom=/workgroup=; an explicit domain= beats a DOMAIN/ prefix;
//  2. the credentials= file, for whatever the command line did not give
//     (mount.cifs behaves the same way);
//  3. the environment: USER (also as DOMAIN/user%password) for the user name,
//     then PASSWD, PASSWD_FD (a file descriptor to read one line from) and
//     PASSWD_FILE (a file whose first line is the password), in that order.
//
// guest means an empty password and, unless a user name was given, the user
// "guest"; sec=none means an anonymous session: no user, no password.
//
// Commas separate options, so a password containing a comma must double it
// on the command line: "pass=a,,b" is the password "a,b" (this is the escape
// mount.cifs uses when it hands a password to the kernel). The rule applies
// only to password=/pass=; a credentials file or PASSWD needs no escaping.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/smbd3/mount.smbd3/fs"
)

// Defaults and limits of the options.
const (
	defaultPort        = 445
	defaultRDMAPort    = 5445
	defaultMode        = 0o755
	defaultActimeo     = 1
	defaultCloseTimeo  = 1
	defaultMaxChannels = 4
	maxChannelsLimit   = 32
	minIOSize          = 4096
	maxIOSize          = 8 << 20
	maxActimeo         = 30 * 24 * 60 * 60 // seconds
	maxPasswordLine    = 4096
)

// Options is a parsed mount.smbd3 command line. The zero value is not
// meaningful; ParseArgs fills in every default.
type Options struct {
	Server     string // host name or IP address; an IPv6 address has no brackets
	Port       int    // TCP port: port=, //server:port/, else 445
	Share      string // share name
	Subdir     string // path below the share root, '/'-separated, no leading or trailing '/'
	Mountpoint string // absolute and cleaned

	Username      string
	Password      string // never log it: use Redacted
	PasswordGiven bool   // some source supplied Password (it may be empty)
	Domain        string
	Credentials   string // credentials= file, if any (already read)
	Guest         bool

	UID, GID          uint32 // owner shown for every file; default: the caller's
	FileMode, DirMode uint32 // permission bits (file_mode=, dir_mode=), default 0755
	ReadOnly          bool
	ReadOnlyGiven     bool // ro or rw was given (a remount keeps the state otherwise)

	// VFSFlags are exec/noexec, suid/nosuid and dev/nodev as given, in
	// order: flags of the kernel mount.
	VFSFlags []string
	// Remount: change a live mount (mount -o remount,…) rather than mount.
	Remount bool

	Vers  string // "3.0", "3.0.2", "3.1.1", "3" (3.0 or later) or "default"
	Sec   string // "ntlmssp", "ntlmsspi", "ntlmv2", "ntlmv2i" (all NTLMv2) or "none"
	Sign  bool   // require signing (also set by the sec=…i modes)
	Seal  bool   // require encryption
	Cache string // "strict", "loose" or "none"
	// CharMap maps characters POSIX allows in names and SMB does not:
	// "sfm" (mapposix, the default, as in Linux cifs), "sfu" (mapchars)
	// or "none" (nomapposix, nomapchars).
	CharMap string

	ActimeoSec  int // actimeo=, default 1
	AcRegMaxSec int // attribute timeout for files: acregmax=, else ActimeoSec
	AcDirMaxSec int // attribute timeout for directories: acdirmax=, else ActimeoSec
	// CloseTimeoSec (closetimeo=, default 1, as Linux cifs): how long the
	// server handle of a file read through the mount stays open after its
	// last close, for the next open to take over; 0 closes at once.
	CloseTimeoSec int

	Rsize, Wsize uint32 // bytes, 0 = as negotiated; else within [4096, 8 MiB]

	// DirectReadMin (direct_read_min=): with cache=strict, read-only
	// opens of files this large bypass the page cache; 0 = never.
	DirectReadMin int64

	NoLease bool // nolease: ask for no leases, so no durable handles either

	Multichannel bool
	MaxChannels  int // 1 without multichannel; default 4 with it
	RDMA         bool
	RDMAPort     int
	RDMACRC      bool // MPA CRC32c on SMB-Direct (iWARP) connections

	// NoBRL (nobrl): byte-range and flock locks stay on this client (the
	// kernel's own), none reach the server.
	NoBRL bool
	// DialHost (ip=, addr=): the address to connect to instead of
	// resolving Server, which still names the server (the UNC, logs).
	DialHost string
	// EchoIntervalSec (echo_interval=, as Linux cifs): a channel whose
	// requests go unanswered this long is probed with an ECHO, and given
	// up at twice this; 0 keeps the session's default (20 s in all).
	EchoIntervalSec int

	AllowOther  bool
	Foreground  bool // -f
	Verbose     bool // -v
	ShowHelp    bool // -h: nothing else was validated or defaulted
	ShowVersion bool // -V: nothing else was validated or defaulted
}

// optionsUsage is the usage text for -h.
const optionsUsage = `usage: mount.smbd3 //server[:port]/share[/subdir] MOUNTPOINT [-o options] [-f] [-v] [-h] [-V]

  -o opts  comma-separated mount options (mount.cifs names), e.g.
           username=U,password=P,domain=D,credentials=FILE,guest,sec=ntlmssp|none,
           uid=,gid=,file_mode=,dir_mode=,ro,rw,vers=3.0|3.02|3.1.1|3|default,
           sign,seal,cache=strict|loose|none,actimeo=,closetimeo=,rsize=,wsize=,port=,
           direct_read_min=SIZE,mapposix|mapchars|nomapposix,
           multichannel,max_channels=N,rdma,rdma_port=,rdma_crc,allow_other,
           noexec,nosuid,nodev,nolease,remount,nobrl,ip=ADDR,echo_interval=SECONDS;
           from cifs, accepted as what this client does anyway: iocharset=utf8,
           nounix,serverino,mfsymlinks,nosharesock,forceuid,forcegid,soft,noperm,
           nohandlecache
  -r, -w   same as -o ro, -o rw
  -f       stay in the foreground
  -v       verbose
  -h       this help
  -V       print the version
  -n, -s   accepted and ignored (mount(8) passes them)
`

// ParseArgs parses the helper's arguments, not counting the program name
// (os.Args[1:]), in the form mount(8) uses:
//
//	//server[:port]/share[/subdir] MOUNTPOINT [-o opts] [-f] [-v] [-s] [-n] [-h] [-V]
//
// Flags may come anywhere and may be grouped (-fv, -oro). env looks up
// environment variables (nil means os.Getenv). With -h or -V the result has
// ShowHelp or ShowVersion set and nothing else is checked or defaulted.
func ParseArgs(args []string, env func(string) string) (*Options, error) {
	if env == nil {
		env = os.Getenv
	}
	o := &Options{}
	var opts []string // option lists, in command-line order
	var pos []string
	var flagErr error
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i+1:]...)
			i = len(args)
			continue
		case a == "--help":
			o.ShowHelp = true
			continue
		case a == "--version":
			o.ShowVersion = true
			continue
		case len(a) < 2 || a[0] != '-':
			pos = append(pos, a)
			continue
		case a[1] == '-':
			flagErr = firstErr(flagErr, fmt.Errorf("unknown flag %q", a))
			continue
		}
	cluster:
		for j := 1; j < len(a); j++ {
			switch c := a[j]; c {
			case 'f':
				o.Foreground = true
			case 'v':
				o.Verbose = true
			case 'h':
				o.ShowHelp = true
			case 'V':
				o.ShowVersion = true
			case 'n', 's':
				// mount(8): no mtab, sloppy. Nothing to do.
			case 'r':
				opts = append(opts, "ro")
			case 'w':
				opts = append(opts, "rw")
			case 'o', 't', 'N':
				val := a[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						flagErr = firstErr(flagErr, fmt.Errorf("flag -%c needs an argument", c))
						break cluster
					}
					i++
					val = args[i]
				}
				switch c {
				case 'o':
					opts = append(opts, val)
				case 'N':
					flagErr = firstErr(flagErr, errors.New("flag -N (mount namespace) is not supported"))
				}
				// -t type: mount(8) may pass the file system type; ignored.
				break cluster
			default:
				flagErr = firstErr(flagErr, fmt.Errorf("unknown flag \"-%c\"", c))
				break cluster
			}
		}
	}
	if o.ShowHelp || o.ShowVersion {
		return o, nil
	}
	if flagErr != nil {
		return nil, flagErr
	}
	switch {
	case len(pos) == 0:
		return nil, errors.New("missing UNC (//server/share) and mount point")
	case len(pos) == 1:
		return nil, errors.New("missing mount point")
	case len(pos) > 2:
		return nil, fmt.Errorf("unexpected argument %q", pos[2])
	}

	var err error
	if o.Server, o.Port, o.Share, o.Subdir, err = parseUNC(pos[0]); err != nil {
		return nil, err
	}
	if pos[1] == "" {
		return nil, errors.New("missing mount point")
	}
	if o.Mountpoint, err = filepath.Abs(pos[1]); err != nil {
		return nil, fmt.Errorf("mount point %q: %v", pos[1], err)
	}

	p := optionParser{o: o, env: env, uncPort: o.Port}
	p.setDefaults()
	for _, list := range opts {
		for _, opt := range splitMountOptions(list) {
			p.remount = p.remount || opt == "remount"
		}
	}
	for _, list := range opts {
		afterPassword := false
		for _, opt := range splitMountOptions(list) {
			if afterPassword && !knownOptionKey(opt) {
				// Most likely the rest of a password with a single comma:
				// do not echo it.
				return nil, errors.New(`unknown mount option after the password (write a comma in a password as ",,")`)
			}
			if err := p.apply(opt); err != nil {
				return nil, err
			}
			afterPassword = carriesPassword(opt)
		}
	}
	if err := p.finish(); err != nil {
		return nil, err
	}
	return o, nil
}

// firstErr keeps the first error.
func firstErr(first, next error) error {
	if first != nil {
		return first
	}
	return next
}

// optionParser carries what ParseArgs must remember between options.
type optionParser struct {
	o   *Options
	env func(string) string

	uncPort    int // port given in the UNC, 0 if none
	portSet    bool
	userSet    bool   // username from the command line
	passSet    bool   // password from the command line
	domainSet  bool   // domain= on the command line
	userDomain string // DOMAIN/ prefix of the command-line user name
	acregSet   bool
	acdirSet   bool
	maxChanSet bool
	noMulti    bool // nomultichannel was the last word on multichannel
	remount    bool // a remount: the kernel's FUSE options are accepted too
}

func (p *optionParser) setDefaults() {
	o := p.o
	if o.Port == 0 {
		o.Port = defaultPort
	}
	o.UID = uint32(os.Getuid())
	o.GID = uint32(os.Getgid())
	o.FileMode, o.DirMode = defaultMode, defaultMode
	o.Vers = "default"
	o.Sec = "ntlmssp"
	o.Cache = "strict"
	o.CharMap = "sfm"
	o.DirectReadMin = fs.DefaultDirectReadMin
	o.ActimeoSec = defaultActimeo
	o.CloseTimeoSec = defaultCloseTimeo
	o.RDMAPort = defaultRDMAPort
}

// mountFlagsIgnored are mount(8)'s own options, meaningless to the helper.
var mountFlagsIgnored = map[string]bool{
	"defaults": true, "_netdev": true, "nofail": true, "auto": true, "noauto": true,
	"user": true, "users": true, "nouser": true, "owner": true, "group": true,
	"sync": true, "async": true, "atime": true, "noatime": true, "relatime": true,
	"norelatime": true, "strictatime": true, "nostrictatime": true, "diratime": true,
	"nodiratime": true, "lazytime": true, "nolazytime": true,
}

// flagOptions and valueOptions are the helper's own options (apply must
// handle exactly these).
var (
	flagOptions = map[string]bool{
		"ro": true, "rw": true, "sign": true, "seal": true, "allow_other": true, "rdma": true,
		"rdma_crc": true, "multichannel": true, "nomultichannel": true, "guest": true,
		"mapposix": true, "nomapposix": true, "mapchars": true, "nomapchars": true,
		"exec": true, "noexec": true, "suid": true, "nosuid": true, "dev": true, "nodev": true,
		"remount": true, "nolease": true, "nobrl": true,
	}
	// cifsSame are mount.cifs options that ask for what this client does
	// anyway, accepted so that an fstab line written for cifs mounts:
	// nounix/nolinux/noposix (the SMB3 POSIX extensions are not used),
	// serverino (inode numbers are the server's file IDs), mfsymlinks
	// (symlinks are Minshall-French files where the server keeps no
	// reparse points), nosharesock (every mount has its own connection),
	// forceuid/forcegid (uid= and gid= always apply), soft (an operation
	// on a server that stopped answering fails after a bounded time),
	// noperm (permissions are the server's to check) and nohandlecache
	// (directory handles are not cached).
	cifsSame = map[string]bool{
		"nounix": true, "nolinux": true, "noposix": true, "serverino": true,
		"mfsymlinks": true, "nosharesock": true, "forceuid": true, "forcegid": true,
		"soft": true, "noperm": true, "nohandlecache": true,
	}
	// cifsUnsupported are mount.cifs options asking for what this client
	// does not do: an error saying so, rather than "unknown".
	cifsUnsupported = map[string]string{
		"hard":        "an operation on a server that stopped answering fails after a bounded time (as with soft) while the mount reconnects",
		"noserverino": "inode numbers are always the server's file IDs",
		"unix":        "the SMB3 POSIX extensions are not used",
		"linux":       "the SMB3 POSIX extensions are not used",
		"posix":       "the SMB3 POSIX extensions are not used",
	}
	// fuseKernelOptions are what the kernel shows in /proc/mounts for a
	// FUSE mount; mount(8) passes them back to a remount.
	fuseKernelOptions = map[string]bool{
		"user_id": true, "group_id": true, "max_read": true, "rootmode": true,
		"default_permissions": true, "blksize": true, "fd": true,
	}
	valueOptions = map[string]bool{
		"username": true, "user": true, "password": true, "pass": true,
		"domain": true, "dom": true, "workgroup": true, "credentials": true, "cred": true,
		"uid": true, "gid": true, "file_mode": true, "dir_mode": true, "port": true,
		"vers": true, "sec": true, "cache": true, "actimeo": true, "acregmax": true,
		"acdirmax": true, "rsize": true, "wsize": true, "max_channels": true, "rdma_port": true,
		"direct_read_min": true, "closetimeo": true, "iocharset": true, "ip": true, "addr": true,
		"echo_interval": true,
	}
)

// knownOptionKey reports whether opt's key is one ParseArgs knows.
func knownOptionKey(opt string) bool {
	key, _, _ := strings.Cut(opt, "=")
	return flagOptions[key] || valueOptions[key] || mountFlagsIgnored[key] || fuseKernelOptions[key] ||
		cifsSame[key] || cifsUnsupported[key] != "" || key == "comment" || strings.HasPrefix(key, "x-")
}

// carriesPassword reports whether opt holds a password: password=, pass=, or
// a user name in the user%password form.
func carriesPassword(opt string) bool {
	key, val, _ := strings.Cut(opt, "=")
	switch key {
	case "password", "pass":
		return true
	case "user", "username":
		return strings.Contains(val, "%")
	}
	return false
}

// apply applies one key[=value] option.
func (p *optionParser) apply(opt string) error {
	o := p.o
	key, val, hasVal := strings.Cut(opt, "=")

	// Options taking no value.
	noValue := func(set func()) error {
		if hasVal {
			return fmt.Errorf("%s: takes no value", key)
		}
		set()
		return nil
	}
	// Options needing a non-empty value.
	need := func() error {
		if val == "" {
			return fmt.Errorf("%s: missing value", key)
		}
		return nil
	}

	if mountFlagsIgnored[key] {
		if key == "user" && hasVal {
			return p.setUser(val) // user=NAME is the user name, bare user is mount(8)'s
		}
		return noValue(func() {})
	}
	if key == "comment" || strings.HasPrefix(key, "x-") {
		return nil // mount(8) / systemd annotations
	}
	if p.remount && fuseKernelOptions[key] {
		return nil // from /proc/mounts, passed back by mount(8)
	}
	if cifsSame[key] {
		return noValue(func() {})
	}
	if why := cifsUnsupported[key]; why != "" {
		return fmt.Errorf("%s: not supported: %s", key, why)
	}

	switch key {
	case "ro":
		return noValue(func() { o.ReadOnly, o.ReadOnlyGiven = true, true })
	case "rw":
		return noValue(func() { o.ReadOnly, o.ReadOnlyGiven = false, true })
	case "exec", "noexec", "suid", "nosuid", "dev", "nodev":
		return noValue(func() { o.VFSFlags = append(o.VFSFlags, key) })
	case "remount":
		return noValue(func() { o.Remount = true })
	case "nolease":
		return noValue(func() { o.NoLease = true })
	case "nobrl":
		return noValue(func() { o.NoBRL = true })
	case "sign":
		return noValue(func() { o.Sign = true })
	case "seal":
		return noValue(func() { o.Seal = true })
	case "allow_other":
		return noValue(func() { o.AllowOther = true })
	case "rdma":
		return noValue(func() { o.RDMA = true })
	case "rdma_crc":
		return noValue(func() { o.RDMACRC = true })
	case "multichannel":
		return noValue(func() { o.Multichannel, p.noMulti = true, false })
	case "nomultichannel":
		return noValue(func() { o.Multichannel, p.noMulti = false, true })
	case "guest":
		return noValue(func() { o.Guest = true })
	case "mapposix":
		return noValue(func() { o.CharMap = "sfm" })
	case "mapchars":
		return noValue(func() { o.CharMap = "sfu" })
	case "nomapposix", "nomapchars":
		return noValue(func() { o.CharMap = "none" })
	}
	if !hasVal {
		if valueOptions[key] {
			return fmt.Errorf("%s: missing value", key)
		}
		return fmt.Errorf("unknown mount option %q", key)
	}

	var err error
	switch key {
	case "username":
		return p.setUser(val)
	case "password", "pass":
		o.Password, o.PasswordGiven, p.passSet = val, true, true
	case "domain", "dom", "workgroup":
		o.Domain, p.domainSet = val, true
	case "credentials", "cred":
		if err = need(); err == nil {
			o.Credentials = val
		}
	case "uid":
		if err = need(); err == nil {
			o.UID, err = lookupID(val, "user", func(s string) (string, error) {
				u, err := user.Lookup(s)
				if err != nil {
					return "", err
				}
				return u.Uid, nil
			})
		}
	case "gid":
		if err = need(); err == nil {
			o.GID, err = lookupID(val, "group", func(s string) (string, error) {
				g, err := user.LookupGroup(s)
				if err != nil {
					return "", err
				}
				return g.Gid, nil
			})
		}
	case "file_mode":
		o.FileMode, err = parseMode(val)
	case "dir_mode":
		o.DirMode, err = parseMode(val)
	case "port":
		o.Port, err = parsePort(val)
		p.portSet = true
	case "rdma_port":
		o.RDMAPort, err = parsePort(val)
	case "vers":
		o.Vers, err = parseVers(val)
	case "sec":
		err = p.setSec(val)
	case "cache":
		switch v := strings.ToLower(val); v {
		case "strict", "loose", "none":
			o.Cache = v
		default:
			err = fmt.Errorf("unknown cache mode %q (strict, loose or none)", val)
		}
	case "actimeo", "acregmax", "acdirmax":
		var n int
		if n, err = parseSeconds(val); err == nil {
			switch key {
			case "actimeo":
				o.ActimeoSec = n
			case "acregmax":
				o.AcRegMaxSec, p.acregSet = n, true
			case "acdirmax":
				o.AcDirMaxSec, p.acdirSet = n, true
			}
		}
	case "closetimeo":
		o.CloseTimeoSec, err = parseSeconds(val)
	case "rsize", "wsize":
		var n uint32
		if n, err = parseIOSize(val); err == nil {
			if key == "rsize" {
				o.Rsize = n
			} else {
				o.Wsize = n
			}
		}
	case "direct_read_min":
		var n uint64
		if n, err = humanize.ParseBytes(val); err != nil {
			err = fmt.Errorf("%q is not a size (e.g. 64MiB, or 0 for never)", val)
		}
		o.DirectReadMin = int64(min(n, 1<<62))
	case "iocharset":
		// Names are UTF-8 here and UTF-16 on the wire, whatever the locale.
		if v := strings.ToLower(val); v != "utf8" && v != "utf-8" {
			err = fmt.Errorf("%q: only utf8 (names are UTF-8 on this side, UTF-16 on the wire)", val)
		}
	case "ip", "addr":
		if net.ParseIP(val) == nil {
			err = fmt.Errorf("%q is not an IP address", val)
		}
		o.DialHost = val
	case "echo_interval":
		n, perr := strconv.ParseUint(val, 10, 16)
		if perr != nil || n < 1 || n > 600 {
			err = fmt.Errorf("%q is not a number of seconds from 1 to 600", val)
		}
		o.EchoIntervalSec = int(n)
	case "max_channels":
		n, perr := strconv.ParseUint(val, 10, 8)
		if perr != nil || n < 1 || n > maxChannelsLimit {
			err = fmt.Errorf("%q is not a number from 1 to %d", val, maxChannelsLimit)
		}
		o.MaxChannels, p.maxChanSet = int(n), true
	default:
		return fmt.Errorf("unknown mount option %q", key)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// setUser applies a command-line user name in any of its forms.
func (p *optionParser) setUser(raw string) error {
	domain, name, pass, hasPass := splitUsername(raw)
	p.o.Username, p.userDomain, p.userSet = name, domain, true
	if hasPass {
		p.o.Password, p.o.PasswordGiven, p.passSet = pass, true, true
	}
	return nil
}

// splitUsername splits mount.cifs's legacy user name forms DOMAIN/user,
// DOMAIN\user and user%password (and their combination). The password is
// everything after the first '%', so it may contain '/' and '%'.
func splitUsername(s string) (domain, name, pass string, hasPass bool) {
	name, pass, hasPass = strings.Cut(s, "%")
	if i := strings.IndexAny(name, `/\`); i >= 0 {
		domain, name = name[:i], name[i+1:]
	}
	return domain, name, pass, hasPass
}

func (p *optionParser) setSec(val string) error {
	switch v := strings.ToLower(val); v {
	case "ntlmssp", "ntlmv2":
		p.o.Sec = v
	case "ntlmsspi", "ntlmv2i":
		p.o.Sec, p.o.Sign = v, true
	case "none":
		p.o.Sec = v
	case "krb5", "krb5i":
		return fmt.Errorf("%s is not supported yet", v)
	case "ntlm", "ntlmi", "lanman":
		return fmt.Errorf("%s is not supported (insecure); use ntlmssp", v)
	default:
		return fmt.Errorf("unknown security mode %q", val)
	}
	return nil
}

// finish resolves defaults that depend on several options and reads the
// credentials file and the environment.
func (p *optionParser) finish() error {
	o := p.o
	if p.portSet && p.uncPort != 0 && o.Port != p.uncPort {
		return fmt.Errorf("port: %d conflicts with port %d in the UNC", o.Port, p.uncPort)
	}
	if !p.acregSet {
		o.AcRegMaxSec = o.ActimeoSec
	}
	if !p.acdirSet {
		o.AcDirMaxSec = o.ActimeoSec
	}

	if p.maxChanSet && o.MaxChannels > 1 {
		if p.noMulti {
			return fmt.Errorf("max_channels: %d channels need multichannel, but nomultichannel was given", o.MaxChannels)
		}
		o.Multichannel = true // as the Linux client does
	}
	switch {
	case !o.Multichannel:
		o.MaxChannels = 1
	case !p.maxChanSet:
		o.MaxChannels = defaultMaxChannels
	}

	// Domain from the command-line user name, unless domain= was given.
	if !p.domainSet && p.userDomain != "" {
		o.Domain, p.domainSet = p.userDomain, true
	}
	if o.Credentials != "" {
		if err := p.readCredentials(o.Credentials); err != nil {
			return err
		}
	}

	switch {
	case o.Sec == "none":
		o.Username, o.Password, o.PasswordGiven = "", "", true
		return nil
	case o.Guest:
		if !p.userSet {
			o.Username = "guest"
		}
		o.Password, o.PasswordGiven = "", true
		return nil
	}

	if !p.userSet {
		if u := p.env("USER"); u != "" {
			domain, name, pass, hasPass := splitUsername(u)
			o.Username = name
			if !p.domainSet && domain != "" {
				o.Domain = domain
			}
			if hasPass && !p.passSet {
				o.Password, o.PasswordGiven, p.passSet = pass, true, true
			}
		}
	}
	if p.passSet {
		return nil
	}
	if pw := p.env("PASSWD"); pw != "" {
		o.Password, o.PasswordGiven = pw, true
		return nil
	}
	if fdStr := p.env("PASSWD_FD"); fdStr != "" {
		fd, err := strconv.Atoi(fdStr)
		if err != nil || fd < 0 {
			return fmt.Errorf("PASSWD_FD: %q is not a file descriptor", fdStr)
		}
		pw, err := readPasswordFD(fd)
		if err != nil {
			return fmt.Errorf("PASSWD_FD: %v", err)
		}
		o.Password, o.PasswordGiven = pw, true
		return nil
	}
	if file := p.env("PASSWD_FILE"); file != "" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("PASSWD_FILE: %v", err)
		}
		defer f.Close()
		pw, err := readPasswordFD(int(f.Fd()))
		if err != nil {
			return fmt.Errorf("PASSWD_FILE %s: %v", file, err)
		}
		o.Password, o.PasswordGiven = pw, true
	}
	return nil
}

// readCredentials reads a mount.cifs credentials file: username=/user=,
// password=/pass=, domain=/dom=/workgroup= lines; blank lines and '#'
// comments are ignored, any other key is an error. A value is everything
// after the first '=': a password keeps its spaces, names are trimmed. The
// file only fills in what the command line did not give; within the file,
// password= and domain= beat the user%password and DOMAIN/user forms.
func (p *optionParser) readCredentials(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("credentials: %v", err)
	}
	var name, pass, domain string
	var hasName, hasPass, hasDomain bool
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if t := strings.TrimSpace(line); t == "" || t[0] == '#' {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("credentials file %s: line %d: expected key=value", path, n+1)
		}
		switch key = strings.TrimSpace(key); key {
		case "username", "user":
			var d, pw string
			var hasPw bool
			d, name, pw, hasPw = splitUsername(strings.TrimSpace(val))
			hasName = true
			if d != "" && !hasDomain {
				domain = d
			}
			if hasPw && !hasPass {
				pass, hasPass = pw, true
			}
		case "password", "pass":
			pass, hasPass = val, true
		case "domain", "dom", "workgroup":
			domain, hasDomain = strings.TrimSpace(val), true
		default:
			return fmt.Errorf("credentials file %s: line %d: unknown key %q", path, n+1, key)
		}
	}
	o := p.o
	if hasName && !p.userSet {
		o.Username, p.userSet = name, true
	}
	if hasPass && !p.passSet {
		o.Password, o.PasswordGiven, p.passSet = pass, true, true
	}
	if domain != "" && !p.domainSet {
		o.Domain, p.domainSet = domain, true
	}
	return nil
}

// readPasswordFD reads one line from fd without closing it or reading past
// the newline (the rest of the stream stays for its owner).
func readPasswordFD(fd int) (string, error) {
	var line []byte
	var b [1]byte
	for len(line) < maxPasswordLine {
		n, err := syscall.Read(fd, b[:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return "", err
		}
		if n == 0 || b[0] == '\n' {
			break
		}
		line = append(line, b[0])
	}
	return strings.TrimSuffix(string(line), "\r"), nil
}

// splitMountOptions splits a -o list at commas. In a password=/pass= value a
// doubled comma stands for one comma. Empty items are dropped.
func splitMountOptions(s string) []string {
	var out []string
	for s != "" {
		var item string
		if strings.HasPrefix(s, "password=") || strings.HasPrefix(s, "pass=") {
			var b strings.Builder
			i := strings.IndexByte(s, '=') + 1
			b.WriteString(s[:i])
			for ; i < len(s); i++ {
				if s[i] == ',' {
					if i+1 < len(s) && s[i+1] == ',' {
						b.WriteByte(',')
						i++
						continue
					}
					break
				}
				b.WriteByte(s[i])
			}
			item = b.String()
			s = s[min(i+1, len(s)):]
		} else {
			item, s, _ = strings.Cut(s, ",")
		}
		if item != "" {
			out = append(out, item)
		}
	}
	return out
}

// parseUNC splits //server[:port]/share[/subdir] (or the \\server\share form).
func parseUNC(unc string) (server string, port int, share, subdir string, err error) {
	bad := func(why string) error { return fmt.Errorf("UNC %q: %s (want //server/share)", unc, why) }
	s := unc
	if !strings.HasPrefix(s, "//") && !strings.HasPrefix(s, `\\`) {
		return "", 0, "", "", bad("must start with //")
	}
	s = strings.ReplaceAll(s[2:], `\`, "/")
	hostport, rest, _ := strings.Cut(s, "/")
	if hostport == "" {
		return "", 0, "", "", bad("missing server")
	}
	portStr := ""
	switch {
	case hostport[0] == '[':
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return "", 0, "", "", bad("missing ] after IPv6 address")
		}
		server = hostport[1:end]
		if after := hostport[end+1:]; after != "" {
			if after[0] != ':' {
				return "", 0, "", "", bad("junk after ]")
			}
			portStr = after[1:]
		}
		if ip, _, _ := strings.Cut(server, "%"); net.ParseIP(ip) == nil {
			return "", 0, "", "", bad(fmt.Sprintf("%q is not an IPv6 address", server))
		}
	case strings.Count(hostport, ":") > 1:
		// A bare IPv6 address: acceptable when unambiguous.
		server = hostport
		if ip, _, _ := strings.Cut(server, "%"); net.ParseIP(ip) == nil {
			return "", 0, "", "", bad(fmt.Sprintf("bad server %q (put IPv6 addresses in brackets)", server))
		}
	default:
		server, portStr, _ = strings.Cut(hostport, ":")
		if portStr == "" && strings.HasSuffix(hostport, ":") {
			return "", 0, "", "", bad("empty port")
		}
	}
	if server == "" {
		return "", 0, "", "", bad("missing server")
	}
	if portStr != "" {
		if port, err = parsePort(portStr); err != nil {
			return "", 0, "", "", bad("port " + err.Error())
		}
	}
	share, rest, _ = strings.Cut(rest, "/")
	if share == "" {
		return "", 0, "", "", bad("missing share name")
	}
	var parts []string
	for _, c := range strings.Split(rest, "/") {
		switch c {
		case "", ".":
		case "..":
			return "", 0, "", "", bad(`".." is not allowed in the path`)
		default:
			parts = append(parts, c)
		}
	}
	return server, port, share, strings.Join(parts, "/"), nil
}

func parsePort(s string) (int, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port number", s)
	}
	return int(n), nil
}

func parseMode(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o7777 {
		return 0, fmt.Errorf("%q is not an octal mode", s)
	}
	return uint32(n), nil
}

// parseSeconds parses an attribute timeout.
func parseSeconds(s string) (int, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number of seconds", s)
	}
	if n > maxActimeo {
		return 0, fmt.Errorf("%q is more than %d seconds", s, maxActimeo)
	}
	return int(n), nil
}

// parseIOSize parses rsize/wsize: 0 means negotiate, anything else is
// clamped to [4096, 8 MiB].
func parseIOSize(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number of bytes", s)
	}
	switch {
	case n == 0:
		return 0, nil
	case n < minIOSize:
		return minIOSize, nil
	case n > maxIOSize:
		return maxIOSize, nil
	}
	return uint32(n), nil
}

// lookupID parses a numeric id or looks a name up (kind is "user" or "group").
func lookupID(s, kind string, lookup func(string) (string, error)) (uint32, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(n), nil
	}
	idStr, err := lookup(s)
	if err != nil {
		return 0, fmt.Errorf("no %s %q", kind, s)
	}
	n, err := strconv.ParseUint(idStr, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s %q has id %q, not a number", kind, s, idStr)
	}
	return uint32(n), nil
}

// parseVers accepts mount.cifs's SMB3 spellings and returns the canonical one.
func parseVers(s string) (string, error) {
	switch strings.ToLower(s) {
	case "3.0":
		return "3.0", nil
	case "3.02", "3.0.2":
		return "3.0.2", nil
	case "3.1.1", "3.11":
		return "3.1.1", nil
	case "3":
		return "3", nil
	case "default":
		return "default", nil
	case "1.0", "2.0", "2.1":
		return "", fmt.Errorf("SMB %s is not supported (SMB 3 only)", s)
	}
	return "", fmt.Errorf("unknown SMB version %q (3.0, 3.02, 3.1.1, 3 or default)", s)
}

// Dialects returns the SMB2 dialect revisions ([MS-SMB2] 2.2.3) to offer for
// Vers, lowest first.
func (o *Options) Dialects() []uint16 {
	switch o.Vers {
	case "3.0":
		return []uint16{0x0300}
	case "3.0.2":
		return []uint16{0x0302}
	case "3.1.1":
		return []uint16{0x0311}
	}
	return []uint16{0x0300, 0x0302, 0x0311}
}

// FileTTL and DirTTL are the attribute cache timeouts for files and
// directories: zero with cache=none.
func (o *Options) FileTTL() time.Duration { return o.ttl(o.AcRegMaxSec) }

// DirTTL: see FileTTL.
func (o *Options) DirTTL() time.Duration { return o.ttl(o.AcDirMaxSec) }

func (o *Options) ttl(sec int) time.Duration {
	if o.Cache == "none" {
		return 0
	}
	return time.Duration(sec) * time.Second
}

// NeedsPassword reports whether main must still obtain a password (prompt).
func (o *Options) NeedsPassword() bool {
	return !o.PasswordGiven && !o.Guest && o.Sec != "none"
}

// Addr is the server address the session starts on, host:port: the
// server's name or ip=, and port= (445), or rdma_port= (5445) with rdma.
func (o *Options) Addr() string {
	if o.RDMA {
		return net.JoinHostPort(o.dialHost(), strconv.Itoa(o.RDMAPort))
	}
	return o.tcpAddr()
}

// tcpAddr is the server's TCP address, host:port.
func (o *Options) tcpAddr() string { return net.JoinHostPort(o.dialHost(), strconv.Itoa(o.Port)) }

// dialHost is what to connect to: ip= if given, else the server's name.
func (o *Options) dialHost() string {
	if o.DialHost != "" {
		return o.DialHost
	}
	return o.Server
}

// UNC is //server[:port]/share[/subdir], the port only if not 445.
func (o *Options) UNC() string {
	host := o.Server
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if o.Port != defaultPort && o.Port != 0 {
		host += ":" + strconv.Itoa(o.Port)
	}
	s := "//" + host + "/" + o.Share
	if o.Subdir != "" {
		s += "/" + o.Subdir
	}
	return s
}

// Redacted is a one-line summary for logs. It never contains the password.
func (o *Options) Redacted() string {
	var b strings.Builder
	b.WriteString(o.UNC())
	b.WriteString(" on ")
	b.WriteString(quoteIfNeeded(o.Mountpoint))
	add := func(s string) { b.WriteByte(' '); b.WriteString(s) }
	addf := func(format string, args ...any) { add(fmt.Sprintf(format, args...)) }
	switch {
	case o.Sec == "none":
		add("anonymous")
	default:
		name := o.Username
		if o.Domain != "" {
			name = o.Domain + `\` + name
		}
		add("user=" + quoteIfNeeded(name))
		if o.Guest {
			add("guest")
		} else if o.Password != "" {
			add("password=***")
		}
	}
	if o.Credentials != "" {
		add("credentials=" + quoteIfNeeded(o.Credentials))
	}
	addf("sec=%s vers=%s", o.Sec, o.Vers)
	if o.Sign {
		add("sign")
	}
	if o.Seal {
		add("seal")
	}
	if o.ReadOnly {
		add("ro")
	} else {
		add("rw")
	}
	for _, f := range o.VFSFlags {
		add(f)
	}
	if o.NoLease {
		add("nolease")
	}
	addf("uid=%d gid=%d file_mode=%#o dir_mode=%#o cache=%s", o.UID, o.GID, o.FileMode, o.DirMode, o.Cache)
	if o.AcRegMaxSec == o.ActimeoSec && o.AcDirMaxSec == o.ActimeoSec {
		addf("actimeo=%d", o.ActimeoSec)
	} else {
		addf("acregmax=%d acdirmax=%d", o.AcRegMaxSec, o.AcDirMaxSec)
	}
	addf("closetimeo=%d rsize=%d wsize=%d", o.CloseTimeoSec, o.Rsize, o.Wsize)
	switch o.CharMap {
	case "sfu":
		add("mapchars")
	case "none":
		add("nomapposix")
	}
	if o.Cache == "strict" {
		addf("direct_read_min=%d", o.DirectReadMin)
	}
	if o.Multichannel {
		addf("multichannel max_channels=%d", o.MaxChannels)
	}
	if o.RDMA {
		addf("rdma rdma_port=%d", o.RDMAPort)
	}
	if o.RDMACRC {
		add("rdma_crc")
	}
	if o.AllowOther {
		add("allow_other")
	}
	return b.String()
}

// String is Redacted, so that printing Options with %v or %+v cannot leak the
// password.
func (o *Options) String() string { return o.Redacted() }

// GoString is Redacted too, for %#v.
func (o *Options) GoString() string { return o.Redacted() }

func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == '"' || r == 0x7f }) {
		return strconv.Quote(s)
	}
	return s
}

// ScrubPasswordArgs returns a copy of args (as given to ParseArgs) with every
// password removed: password=/pass= options are dropped from -o lists (an -o
// left empty is dropped too) and the %password part of user=/username= is
// cut off. main uses it to re-exec the daemon without the password on its
// command line, handing the password over through an inherited pipe or the
// environment instead (PASSWD_FD, PASSWD), which ParseArgs reads because no
// password option is left.
func ScrubPasswordArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) < 2 || a[0] != '-' || a[1] == '-' {
			out = append(out, a)
			continue
		}
		j := strings.IndexAny(a[1:], "otN") + 1 // first flag taking an argument
		if j == 0 {
			out = append(out, a)
			continue
		}
		head, attached := a[:j+1], a[j+1:]
		if a[j] != 'o' { // -t, -N: pass the flag and its argument through
			out = append(out, a)
			if attached == "" && i+1 < len(args) {
				i++
				out = append(out, args[i])
			}
			continue
		}
		list := attached
		if list == "" {
			if i+1 >= len(args) {
				out = append(out, a)
				continue
			}
			i++
			list = args[i]
		}
		clean := scrubOptionList(list)
		switch {
		case clean != "" && attached != "":
			out = append(out, head+clean)
		case clean != "":
			out = append(out, head, clean)
		case len(head) > 2:
			out = append(out, head[:len(head)-1]) // "-vo" → "-v"
		}
	}
	return out
}

// scrubOptionList removes passwords from one -o list. Unknown items right
// after a password are dropped too: they are most likely the rest of a
// password with an undoubled comma (ParseArgs rejects them anyway).
func scrubOptionList(list string) string {
	var kept []string
	afterPassword := false
	for _, opt := range splitMountOptions(list) {
		if afterPassword && !knownOptionKey(opt) {
			continue
		}
		afterPassword = carriesPassword(opt)
		key, val, _ := strings.Cut(opt, "=")
		switch key {
		case "password", "pass":
			continue
		case "user", "username":
			if name, _, ok := strings.Cut(val, "%"); ok {
				opt = key + "=" + name
			}
		}
		kept = append(kept, opt)
	}
	return strings.Join(kept, ",")
}
