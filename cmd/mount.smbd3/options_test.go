package main

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// defaultOptions is what ParseArgs gives for //srv/share /mnt and no env.
func defaultOptions() Options {
	return Options{
		Server: "srv", Port: 445, Share: "share", Mountpoint: "/mnt",
		UID: uint32(os.Getuid()), GID: uint32(os.Getgid()),
		FileMode: 0o755, DirMode: 0o755,
		Vers: "default", Sec: "ntlmssp", Cache: "strict", CharMap: "sfm",
		ActimeoSec: 1, AcRegMaxSec: 1, AcDirMaxSec: 1, CloseTimeoSec: 1,
		MaxChannels: 1, RDMAPort: 5445, DirectReadMin: 64 << 20,
	}
}

func TestParseArgs(t *testing.T) {
	base := []string{"//srv/share", "/mnt"}
	withOpts := func(opts string) []string { return append(base[:2:2], "-o", opts) }
	tests := []struct {
		name string
		args []string
		env  map[string]string
		mod  func(o *Options)
	}{
		{"defaults", base, nil, func(o *Options) {}},
		{"options first", []string{"-o", "ro", "//srv/share", "/mnt"}, nil, func(o *Options) { o.ReadOnly, o.ReadOnlyGiven = true, true }},
		{"mapchars", withOpts("mapchars"), nil, func(o *Options) { o.CharMap = "sfu" }},
		{"nomapposix", withOpts("nomapposix"), nil, func(o *Options) { o.CharMap = "none" }},
		{"nomapchars", withOpts("mapchars,nomapchars"), nil, func(o *Options) { o.CharMap = "none" }},
		{"mapposix last", withOpts("nomapposix,mapposix"), nil, func(o *Options) { o.CharMap = "sfm" }},
		{"direct_read_min", withOpts("direct_read_min=1GiB"), nil, func(o *Options) { o.DirectReadMin = 1 << 30 }},
		{"direct_read_min off", withOpts("direct_read_min=0"), nil, func(o *Options) { o.DirectReadMin = 0 }},
		{"an fstab line written for cifs", withOpts("iocharset=utf8,nounix,serverino,mfsymlinks,nosharesock,forceuid,forcegid,soft,noperm,nohandlecache,nolinux,noposix"), nil, func(o *Options) {}},
		{"iocharset spelled utf-8", withOpts("iocharset=UTF-8"), nil, func(o *Options) {}},
		{"nobrl", withOpts("nobrl"), nil, func(o *Options) { o.NoBRL = true }},
		{"ip", withOpts("ip=192.0.2.7"), nil, func(o *Options) { o.DialHost = "192.0.2.7" }},
		{"addr", withOpts("addr=2001:db8::1"), nil, func(o *Options) { o.DialHost = "2001:db8::1" }},
		{"echo_interval", withOpts("echo_interval=5"), nil, func(o *Options) { o.EchoIntervalSec = 5 }},
		{"flags", []string{"-f", "//srv/share", "-v", "/mnt", "-s", "-n"}, nil, func(o *Options) { o.Foreground, o.Verbose = true, true }},
		{"grouped flags", []string{"-fvsn", "//srv/share", "/mnt"}, nil, func(o *Options) { o.Foreground, o.Verbose = true, true }},
		{"attached -o", []string{"//srv/share", "/mnt", "-oro,sign"}, nil, func(o *Options) { o.ReadOnly, o.ReadOnlyGiven, o.Sign = true, true, true }},
		{"grouped -o", []string{"//srv/share", "/mnt", "-vo", "seal"}, nil, func(o *Options) { o.Verbose, o.Seal = true, true }},
		{"two -o", []string{"//srv/share", "/mnt", "-o", "ro", "-o", "rw,seal"}, nil, func(o *Options) { o.Seal, o.ReadOnlyGiven = true, true }},
		{"-t type ignored", []string{"-t", "smbd3", "//srv/share", "/mnt"}, nil, func(o *Options) {}},
		{"-r and -w", []string{"-r", "//srv/share", "/mnt"}, nil, func(o *Options) { o.ReadOnly, o.ReadOnlyGiven = true, true }},
		{"-- ends flags", []string{"--", "//srv/share", "/mnt"}, nil, func(o *Options) {}},
		{"empty items", withOpts(",ro,,"), nil, func(o *Options) { o.ReadOnly, o.ReadOnlyGiven = true, true }},
		{"ro then rw", withOpts("ro,rw"), nil, func(o *Options) { o.ReadOnlyGiven = true }},
		{"booleans", withOpts("sign,seal,allow_other,rdma"), nil, func(o *Options) {
			o.Sign, o.Seal, o.AllowOther, o.RDMA = true, true, true, true
		}},
		{"mount(8) options ignored", withOpts("defaults,_netdev,nofail,auto,noauto,user,users,nouser,owner,group," +
			"sync,async,atime,noatime,relatime,strictatime,nodiratime,diratime," +
			"comment=systemd.automount,x-systemd.automount,x-systemd.idle-timeout=60,x-gvfs-show"), nil, func(o *Options) {}},
		{"nolease", withOpts("nolease"), nil, func(o *Options) { o.NoLease = true }},
		{"kernel mount flags", withOpts("noexec,nosuid,dev,exec"), nil, func(o *Options) {
			o.VFSFlags = []string{"noexec", "nosuid", "dev", "exec"}
		}},
		{"remount with what /proc/mounts shows", withOpts("ro,nosuid,nodev,relatime,remount,user_id=0,group_id=0,max_read=1048576"), nil, func(o *Options) {
			o.Remount, o.ReadOnly, o.ReadOnlyGiven, o.VFSFlags = true, true, true, []string{"nosuid", "nodev"}
		}},

		{"user=", withOpts("user=bob"), nil, func(o *Options) { o.Username = "bob" }},
		{"username=", withOpts("username=bob"), nil, func(o *Options) { o.Username = "bob" }},
		{"DOMAIN/user", withOpts("user=CORP/bob"), nil, func(o *Options) { o.Username, o.Domain = "bob", "CORP" }},
		{`DOMAIN\user`, withOpts(`username=CORP\bob`), nil, func(o *Options) { o.Username, o.Domain = "bob", "CORP" }},
		{"user%pass", withOpts("user=bob%p/a%ss"), nil, func(o *Options) {
			o.Username, o.Password, o.PasswordGiven = "bob", "p/a%ss", true
		}},
		{"domain= beats DOMAIN/", withOpts("domain=REAL,user=CORP/bob"), nil, func(o *Options) { o.Username, o.Domain = "bob", "REAL" }},
		{"dom= and workgroup=", withOpts("dom=A,workgroup=B"), nil, func(o *Options) { o.Domain = "B" }},
		{"password=", withOpts("user=bob,password=s3cret"), nil, func(o *Options) {
			o.Username, o.Password, o.PasswordGiven = "bob", "s3cret", true
		}},
		{"pass= with doubled commas", withOpts("pass=a,,b,ro"), nil, func(o *Options) {
			o.Password, o.PasswordGiven, o.ReadOnly, o.ReadOnlyGiven = "a,b", true, true, true
		}},
		{"password= ends in a comma", withOpts("password=a,,,ro"), nil, func(o *Options) {
			o.Password, o.PasswordGiven, o.ReadOnly, o.ReadOnlyGiven = "a,", true, true, true
		}},
		{"password= with ,,,, and =", withOpts("password=,,x=y,,,,z"), nil, func(o *Options) {
			o.Password, o.PasswordGiven = ",x=y,,z", true
		}},
		{"empty password", withOpts("password="), nil, func(o *Options) { o.PasswordGiven = true }},
		{"password= beats user%pass", withOpts("password=p1,user=bob%p2"), nil, func(o *Options) {
			o.Username, o.Password, o.PasswordGiven = "bob", "p2", true
		}},
		{"guest", withOpts("guest"), map[string]string{"USER": "me", "PASSWD": "pw"}, func(o *Options) {
			o.Guest, o.Username, o.PasswordGiven = true, "guest", true
		}},
		{"guest with user", withOpts("guest,user=visitor,pass=x"), nil, func(o *Options) {
			o.Guest, o.Username, o.PasswordGiven = true, "visitor", true
		}},
		{"sec=none is anonymous", withOpts("sec=none,user=bob,pass=x"), map[string]string{"USER": "me"}, func(o *Options) {
			o.Sec, o.PasswordGiven = "none", true
		}},

		{"uid gid numbers", withOpts("uid=1234,gid=5678"), nil, func(o *Options) { o.UID, o.GID = 1234, 5678 }},
		{"uid name", withOpts("uid=root"), nil, func(o *Options) { o.UID = 0 }},
		{"modes", withOpts("file_mode=0644,dir_mode=2775"), nil, func(o *Options) { o.FileMode, o.DirMode = 0o644, 0o2775 }},
		{"port=", withOpts("port=4455"), nil, func(o *Options) { o.Port = 4455 }},

		{"vers=3.0", withOpts("vers=3.0"), nil, func(o *Options) { o.Vers = "3.0" }},
		{"vers=3.02", withOpts("vers=3.02"), nil, func(o *Options) { o.Vers = "3.0.2" }},
		{"vers=3.0.2", withOpts("vers=3.0.2"), nil, func(o *Options) { o.Vers = "3.0.2" }},
		{"vers=3.1.1", withOpts("vers=3.1.1"), nil, func(o *Options) { o.Vers = "3.1.1" }},
		{"vers=3.11", withOpts("vers=3.11"), nil, func(o *Options) { o.Vers = "3.1.1" }},
		{"vers=3", withOpts("vers=3"), nil, func(o *Options) { o.Vers = "3" }},
		{"vers=default", withOpts("vers=3,vers=default"), nil, func(o *Options) {}},

		{"sec=ntlmssp", withOpts("sec=ntlmssp"), nil, func(o *Options) {}},
		{"sec=ntlmv2", withOpts("sec=ntlmv2"), nil, func(o *Options) { o.Sec = "ntlmv2" }},
		{"sec=ntlmsspi signs", withOpts("sec=ntlmsspi"), nil, func(o *Options) { o.Sec, o.Sign = "ntlmsspi", true }},
		{"sec=ntlmv2i signs", withOpts("sec=NTLMv2i"), nil, func(o *Options) { o.Sec, o.Sign = "ntlmv2i", true }},

		{"cache=loose", withOpts("cache=loose"), nil, func(o *Options) { o.Cache = "loose" }},
		{"cache=none", withOpts("cache=none"), nil, func(o *Options) { o.Cache = "none" }},
		{"cache=strict", withOpts("cache=none,cache=strict"), nil, func(o *Options) {}},
		{"actimeo", withOpts("actimeo=30"), nil, func(o *Options) { o.ActimeoSec, o.AcRegMaxSec, o.AcDirMaxSec = 30, 30, 30 }},
		{"actimeo=0", withOpts("actimeo=0"), nil, func(o *Options) { o.ActimeoSec, o.AcRegMaxSec, o.AcDirMaxSec = 0, 0, 0 }},
		{"closetimeo", withOpts("closetimeo=0"), nil, func(o *Options) { o.CloseTimeoSec = 0 }},
		{"acregmax acdirmax", withOpts("acregmax=5,acdirmax=10,actimeo=2"), nil, func(o *Options) {
			o.ActimeoSec, o.AcRegMaxSec, o.AcDirMaxSec = 2, 5, 10
		}},

		{"rsize wsize", withOpts("rsize=65536,wsize=1048576"), nil, func(o *Options) { o.Rsize, o.Wsize = 65536, 1048576 }},
		{"rsize wsize clamped", withOpts("rsize=1,wsize=1073741824"), nil, func(o *Options) { o.Rsize, o.Wsize = 4096, 8<<20 }},
		{"rsize wsize negotiate", withOpts("rsize=0,wsize=0"), nil, func(o *Options) {}},

		{"multichannel", withOpts("multichannel"), nil, func(o *Options) { o.Multichannel, o.MaxChannels = true, 4 }},
		{"multichannel max_channels", withOpts("multichannel,max_channels=8"), nil, func(o *Options) { o.Multichannel, o.MaxChannels = true, 8 }},
		{"max_channels implies multichannel", withOpts("max_channels=32"), nil, func(o *Options) { o.Multichannel, o.MaxChannels = true, 32 }},
		{"max_channels=1", withOpts("max_channels=1"), nil, func(o *Options) {}},
		{"nomultichannel", withOpts("multichannel,nomultichannel"), nil, func(o *Options) {}},
		{"nomultichannel then multichannel", withOpts("nomultichannel,multichannel,max_channels=2"), nil, func(o *Options) {
			o.Multichannel, o.MaxChannels = true, 2
		}},
		{"rdma_port", withOpts("rdma,rdma_port=20049"), nil, func(o *Options) { o.RDMA, o.RDMAPort = true, 20049 }},
		{"rdma_crc", withOpts("rdma,rdma_crc"), nil, func(o *Options) { o.RDMA, o.RDMACRC = true, true }},

		// UNC forms.
		{"UNC port and subdir", []string{"//srv:4455/share/sub/dir", "/mnt"}, nil, func(o *Options) { o.Port, o.Subdir = 4455, "sub/dir" }},
		{"UNC port equals port=", []string{"//srv:4455/share", "/mnt", "-o", "port=4455"}, nil, func(o *Options) { o.Port = 4455 }},
		{"UNC trailing slash", []string{"//srv/share/", "/mnt"}, nil, func(o *Options) {}},
		{"UNC untidy subdir", []string{"//srv/share//a/./b/", "/mnt"}, nil, func(o *Options) { o.Subdir = "a/b" }},
		{"UNC IPv6", []string{"//[::1]/share", "/mnt"}, nil, func(o *Options) { o.Server = "::1" }},
		{"UNC IPv6 port", []string{"//[fe80::1%eth0]:4455/share", "/mnt"}, nil, func(o *Options) { o.Server, o.Port = "fe80::1%eth0", 4455 }},
		{"UNC bare IPv6", []string{"//fe80::1/share", "/mnt"}, nil, func(o *Options) { o.Server = "fe80::1" }},
		{"UNC backslashes", []string{`\\srv\share\sub`, "/mnt"}, nil, func(o *Options) { o.Subdir = "sub" }},
		{"mount point cleaned", []string{"//srv/share", "/mnt/x/../"}, nil, func(o *Options) {}},

		// Environment.
		{"USER", base, map[string]string{"USER": "envuser"}, func(o *Options) { o.Username = "envuser" }},
		{"USER with domain and password", base, map[string]string{"USER": "CORP/envuser%envpw"}, func(o *Options) {
			o.Username, o.Domain, o.Password, o.PasswordGiven = "envuser", "CORP", "envpw", true
		}},
		{"user= beats USER", withOpts("user=bob"), map[string]string{"USER": "DOM/envuser%envpw", "PASSWD": "pw"}, func(o *Options) {
			o.Username, o.Password, o.PasswordGiven = "bob", "pw", true
		}},
		{"PASSWD", base, map[string]string{"PASSWD": "pw", "PASSWD_FILE": "/nonexistent"}, func(o *Options) {
			o.Password, o.PasswordGiven = "pw", true
		}},
		{"password= beats PASSWD", withOpts("pass=cli"), map[string]string{"PASSWD": "env", "PASSWD_FD": "bogus"}, func(o *Options) {
			o.Password, o.PasswordGiven = "cli", true
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseArgs(tt.args, envMap(tt.env))
			if err != nil {
				t.Fatalf("ParseArgs(%q): %v", tt.args, err)
			}
			want := defaultOptions()
			tt.mod(&want)
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("ParseArgs(%q)\n got %#v\nwant %#v", tt.args, fields(got), fields(&want))
			}
		})
	}
}

// fields prints every field, password included (tests only).
func fields(o *Options) string {
	type plain Options
	return fmt.Sprintf("%+v", *(*plain)(o))
}

func TestParseArgsRelativeMountpoint(t *testing.T) {
	got, err := ParseArgs([]string{"//srv/share", "mnt/x"}, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if want := filepath.Join(wd, "mnt/x"); got.Mountpoint != want {
		t.Fatalf("Mountpoint = %q, want %q", got.Mountpoint, want)
	}
}

func TestParseArgsGID(t *testing.T) {
	g, err := user.LookupGroup("root")
	if err != nil {
		t.Skip("no group root:", err)
	}
	got, err := ParseArgs([]string{"//srv/share", "/mnt", "-o", "gid=root"}, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.GID) != g.Gid {
		t.Fatalf("GID = %d, want %s", got.GID, g.Gid)
	}
}

func TestParseArgsHelpVersion(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-h", "-x", "junk"}, {"//srv/share", "-vh"}} {
		o, err := ParseArgs(args, envMap(nil))
		if err != nil || !o.ShowHelp {
			t.Errorf("ParseArgs(%q) = %+v, %v; want ShowHelp", args, o, err)
		}
	}
	for _, args := range [][]string{{"-V"}, {"--version"}} {
		o, err := ParseArgs(args, envMap(nil))
		if err != nil || !o.ShowVersion {
			t.Errorf("ParseArgs(%q) = %+v, %v; want ShowVersion", args, o, err)
		}
	}
	if !strings.Contains(optionsUsage, "//server[:port]/share") {
		t.Error("usage text lacks the synopsis")
	}
}

func TestParseArgsErrors(t *testing.T) {
	opts := func(o string) []string { return []string{"//srv/share", "/mnt", "-o", o} }
	unc := func(u string) []string { return []string{u, "/mnt"} }
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{opts("foo"), nil, `unknown mount option "foo"`},
		{opts("ro,foo=bar"), nil, `unknown mount option "foo"`},
		{opts("nosign"), nil, `unknown mount option "nosign"`},
		{opts("user_id=0"), nil, `unknown mount option "user_id"`},
		{opts("uid=nosuchuser-smbd3"), nil, `uid: no user "nosuchuser-smbd3"`},
		{opts("gid=nosuchgroup-smbd3"), nil, `gid: no group "nosuchgroup-smbd3"`},
		{opts("uid"), nil, "uid: missing value"},
		{opts("uid="), nil, "uid: missing value"},
		{opts("credentials="), nil, "credentials: missing value"},
		{opts("file_mode=999"), nil, `file_mode: "999" is not an octal mode`},
		{opts("dir_mode=17777"), nil, `dir_mode: "17777" is not an octal mode`},
		{opts("file_mode=rwx"), nil, `file_mode: "rwx" is not an octal mode`},
		{opts("ro=1"), nil, "ro: takes no value"},
		{opts("guest=yes"), nil, "guest: takes no value"},
		{opts("defaults=1"), nil, "defaults: takes no value"},
		{opts("vers=2.1"), nil, "vers: SMB 2.1 is not supported (SMB 3 only)"},
		{opts("vers=1.0"), nil, "vers: SMB 1.0 is not supported"},
		{opts("vers=4"), nil, `vers: unknown SMB version "4"`},
		{opts("sec=krb5"), nil, "sec: krb5 is not supported yet"},
		{opts("sec=krb5i"), nil, "sec: krb5i is not supported yet"},
		{opts("sec=ntlm"), nil, "sec: ntlm is not supported"},
		{opts("sec=magic"), nil, `sec: unknown security mode "magic"`},
		{opts("cache=fast"), nil, `cache: unknown cache mode "fast"`},
		{opts("direct_read_min=lots"), nil, `direct_read_min: "lots" is not a size`},
		{opts("port=0"), nil, `port: "0" is not a port number`},
		{opts("port=70000"), nil, `port: "70000" is not a port number`},
		{opts("rdma_port=x"), nil, `rdma_port: "x" is not a port number`},
		{opts("actimeo=-1"), nil, `actimeo: "-1" is not a number of seconds`},
		{opts("closetimeo=soon"), nil, `closetimeo: "soon" is not a number of seconds`},
		{opts("iocharset=cp437"), nil, `iocharset: "cp437": only utf8`},
		{opts("ip=srv.example"), nil, `ip: "srv.example" is not an IP address`},
		{opts("echo_interval=0"), nil, `echo_interval: "0" is not a number of seconds from 1 to 600`},
		{opts("echo_interval=601"), nil, `echo_interval: "601" is not a number of seconds from 1 to 600`},
		{opts("hard"), nil, "hard: not supported: an operation on a server that stopped answering fails after a bounded time"},
		{opts("noserverino"), nil, "noserverino: not supported: inode numbers are always the server's file IDs"},
		{opts("posix"), nil, "posix: not supported: the SMB3 POSIX extensions are not used"},
		{opts("nounix=1"), nil, "nounix: takes no value"},
		{opts("acregmax=99999999"), nil, `acregmax: "99999999" is more than`},
		{opts("rsize=64k"), nil, `rsize: "64k" is not a number of bytes`},
		{opts("max_channels=0"), nil, `max_channels: "0" is not a number from 1 to 32`},
		{opts("max_channels=33"), nil, `max_channels: "33" is not a number from 1 to 32`},
		{opts("max_channels=many"), nil, `max_channels: "many" is not a number`},
		{opts("nomultichannel,max_channels=4"), nil, "max_channels: 4 channels need multichannel"},
		{[]string{"//srv:4455/share", "/mnt", "-o", "port=445"}, nil, "port: 445 conflicts with port 4455 in the UNC"},

		{nil, nil, "missing UNC (//server/share) and mount point"},
		{[]string{"//srv/share"}, nil, "missing mount point"},
		{[]string{"//srv/share", ""}, nil, "missing mount point"},
		{[]string{"//srv/share", "/mnt", "extra"}, nil, `unexpected argument "extra"`},
		{[]string{"//srv/share", "/mnt", "-x"}, nil, `unknown flag "-x"`},
		{[]string{"//srv/share", "/mnt", "--fake"}, nil, `unknown flag "--fake"`},
		{[]string{"//srv/share", "/mnt", "-o"}, nil, "flag -o needs an argument"},
		{[]string{"//srv/share", "/mnt", "-N", "/proc/1/ns/mnt"}, nil, "-N (mount namespace) is not supported"},

		{unc("srv/share"), nil, `UNC "srv/share": must start with //`},
		{unc("/srv/share"), nil, "must start with //"},
		{unc("//"), nil, "missing server"},
		{unc("///share"), nil, "missing server"},
		{unc("//srv"), nil, "missing share name"},
		{unc("//srv/"), nil, "missing share name"},
		{unc("//srv//share"), nil, "missing share name"},
		{unc("//srv:/share"), nil, "empty port"},
		{unc("//srv:x/share"), nil, `port "x" is not a port number`},
		{unc("//[::1/share"), nil, "missing ] after IPv6 address"},
		{unc("//[::1]x/share"), nil, "junk after ]"},
		{unc("//[srv]/share"), nil, `"srv" is not an IPv6 address`},
		{unc("//a:b:c/share"), nil, "put IPv6 addresses in brackets"},
		{unc("//srv/share/../etc"), nil, `".." is not allowed`},

		{opts("pass=Sup3r,S3cret,ro"), nil, `unknown mount option after the password (write a comma in a password as ",,")`},
		{opts("user=bob%Sup3r,S3cret"), nil, "unknown mount option after the password"},
		{opts("credentials=/nonexistent/creds"), nil, "credentials: open /nonexistent/creds"},
		{[]string{"//srv/share", "/mnt"}, map[string]string{"PASSWD_FD": "x"}, `PASSWD_FD: "x" is not a file descriptor`},
		{[]string{"//srv/share", "/mnt"}, map[string]string{"PASSWD_FD": "987"}, "PASSWD_FD: bad file descriptor"},
		{[]string{"//srv/share", "/mnt"}, map[string]string{"PASSWD_FILE": "/nonexistent/pw"}, "PASSWD_FILE: open /nonexistent/pw"},
	}
	for _, tt := range tests {
		o, err := ParseArgs(tt.args, envMap(tt.env))
		if err == nil {
			t.Errorf("ParseArgs(%q) = %v, want error %q", tt.args, o, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "S3cret") {
			t.Errorf("ParseArgs(%q): error %q shows the password", tt.args, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseArgs(%q): error %q, want it to contain %q", tt.args, err, tt.want)
		}
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "creds")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCredentialsFile(t *testing.T) {
	full := "# a comment\n\n  username=fileuser\npassword= spaced, pass \ndomain=FILEDOM\n"
	tests := []struct {
		name               string
		file               string
		opts               string
		env                map[string]string
		user, pass, domain string
	}{
		{"all from file", full, "", map[string]string{"USER": "envuser", "PASSWD": "envpw"}, "fileuser", " spaced, pass ", "FILEDOM"},
		{"command line wins", full, "user=cli,pass=clipw,domain=CLIDOM", nil, "cli", "clipw", "CLIDOM"},
		{"command line user only", full, "user=CLIDOM/cli", nil, "cli", " spaced, pass ", "CLIDOM"},
		{"crlf and short keys", "user=u\r\npass=p\r\ndom=D\r\n", "", nil, "u", "p", "D"},
		{"workgroup key", "username = u\nworkgroup=W\n", "", nil, "u", "", "W"},
		{"legacy user forms", "username=D/u%p\n", "", nil, "u", "p", "D"},
		{"domain= beats D/ in file", "domain=REAL\nusername=D/u%p\npassword=real\n", "", nil, "u", "real", "REAL"},
		{"no password: env", "username=u\n", "", map[string]string{"PASSWD": "envpw"}, "u", "envpw", ""},
		{"cred= alias", "username=u\n", "", nil, "u", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.file)
			key := "credentials="
			if tt.name == "cred= alias" {
				key = "cred="
			}
			opts := key + path
			if tt.opts != "" {
				opts = tt.opts + "," + opts
			}
			o, err := ParseArgs([]string{"//srv/share", "/mnt", "-o", opts}, envMap(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if o.Username != tt.user || o.Password != tt.pass || o.Domain != tt.domain || o.Credentials != path {
				t.Fatalf("got user %q pass %q domain %q creds %q; want %q %q %q",
					o.Username, o.Password, o.Domain, o.Credentials, tt.user, tt.pass, tt.domain)
			}
		})
	}
}

func TestCredentialsFileErrors(t *testing.T) {
	for content, want := range map[string]string{
		"username=u\njunk line\n": "line 2: expected key=value",
		"username=u\nuid=5\n":     `line 2: unknown key "uid"`,
	} {
		path := writeFile(t, content)
		_, err := ParseArgs([]string{"//srv/share", "/mnt", "-o", "credentials=" + path}, envMap(nil))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: error %v, want %q", content, err, want)
		}
	}
}

func TestPasswordFD(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w.WriteString("fd secret\r\nnext line")
	w.Close()
	env := map[string]string{"PASSWD_FD": fmt.Sprint(r.Fd()), "PASSWD_FILE": "/nonexistent"}
	o, err := ParseArgs([]string{"//srv/share", "/mnt"}, envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	if o.Password != "fd secret" || !o.PasswordGiven {
		t.Fatalf("Password = %q", o.Password)
	}
	rest := make([]byte, 64)
	n, _ := r.Read(rest)
	if string(rest[:n]) != "next line" {
		t.Fatalf("read past the first line: rest is %q", rest[:n])
	}
}

func TestPasswordFile(t *testing.T) {
	for content, want := range map[string]string{
		"file secret\nsecond\n": "file secret",
		"no newline":            "no newline",
		"":                      "",
	} {
		path := writeFile(t, content)
		o, err := ParseArgs([]string{"//srv/share", "/mnt"}, envMap(map[string]string{"PASSWD_FILE": path}))
		if err != nil {
			t.Fatal(err)
		}
		if o.Password != want || !o.PasswordGiven {
			t.Errorf("%q: Password = %q, want %q", content, o.Password, want)
		}
	}
}

const secret = "Sup3r,S3cret%pw"

func TestRedacted(t *testing.T) {
	cases := [][]string{
		{"//srv/share", "/mnt", "-o", "user=bob,pass=Sup3r,,S3cret%pw"},
		{"//srv/share", "/mnt", "-o", "user=CORP/bob%Sup3r;S3cret%pw,multichannel,rdma,allow_other,sign,seal,ro,acregmax=3"},
		{"//[::1]:4455/share/sub", "/mnt", "-o", "password=Sup3r,,S3cret%pw,guest"},
		{"//srv/share", "/mnt", "-o", "sec=none,pass=Sup3r,,S3cret%pw"},
	}
	for _, args := range cases {
		o, err := ParseArgs(args, envMap(nil))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{o.Redacted(), o.String(), fmt.Sprint(o), fmt.Sprintf("%v %+v %#v %s", o, o, o, o)} {
			if strings.Contains(s, "S3cret") || strings.Contains(s, "Sup3r") {
				t.Errorf("%q: password in %q", args, s)
			}
			if strings.Contains(s, "\n") {
				t.Errorf("%q: summary is not one line: %q", args, s)
			}
		}
	}
	o, _ := ParseArgs(cases[0], envMap(nil))
	if o.Password != secret {
		t.Fatalf("Password = %q", o.Password)
	}
	want := "//srv/share on /mnt user=bob password=*** sec=ntlmssp vers=default rw uid=%d gid=%d " +
		"file_mode=0755 dir_mode=0755 cache=strict actimeo=1 closetimeo=1 rsize=0 wsize=0 direct_read_min=67108864"
	if got := o.Redacted(); got != fmt.Sprintf(want, os.Getuid(), os.Getgid()) {
		t.Errorf("Redacted() = %q", got)
	}
	o, _ = ParseArgs(cases[2], envMap(nil))
	if got := o.Redacted(); !strings.HasPrefix(got, "//[::1]:4455/share/sub on /mnt user=guest guest ") {
		t.Errorf("Redacted() = %q", got)
	}
}

func TestScrubPasswordArgs(t *testing.T) {
	tests := []struct {
		in, want []string
	}{
		{[]string{"//s/sh", "/mnt", "-o", "user=bob,password=Sup3r,S3cret%pw,ro"}, []string{"//s/sh", "/mnt", "-o", "user=bob,ro"}},
		{[]string{"//s/sh", "/mnt", "-o", "user=bob,password=Sup3r,,S3cret%pw,ro"}, []string{"//s/sh", "/mnt", "-o", "user=bob,ro"}},
		{[]string{"//s/sh", "/mnt", "-opass=Sup3r,,S3cret%pw,ro"}, []string{"//s/sh", "/mnt", "-oro"}},
		{[]string{"//s/sh", "/mnt", "-o", "pass=Sup3r"}, []string{"//s/sh", "/mnt"}},
		{[]string{"//s/sh", "/mnt", "-o", "user=x%Sup3r,S3cret,ro,junk"}, []string{"//s/sh", "/mnt", "-o", "user=x,ro,junk"}},
		{[]string{"-f", "-vo", "pass=Sup3r", "//s/sh", "/mnt"}, []string{"-f", "-v", "//s/sh", "/mnt"}},
		{[]string{"-vopass=Sup3r", "//s/sh", "/mnt"}, []string{"-v", "//s/sh", "/mnt"}},
		{[]string{"//s/sh", "/mnt", "-o", "username=DOM/bob%Sup3r,uid=1", "-o", "user=x%S3cret"},
			[]string{"//s/sh", "/mnt", "-o", "username=DOM/bob,uid=1", "-o", "user=x"}},
		{[]string{"-t", "smbd3", "//s/sh", "/mnt", "-tsmbd3", "-n"}, []string{"-t", "smbd3", "//s/sh", "/mnt", "-tsmbd3", "-n"}},
		{[]string{"//s/sh", "/mnt", "-o"}, []string{"//s/sh", "/mnt", "-o"}},
		{[]string{"//s/sh", "--", "-o"}, []string{"//s/sh", "--", "-o"}},
	}
	for _, tt := range tests {
		in := append([]string(nil), tt.in...)
		got := ScrubPasswordArgs(tt.in)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ScrubPasswordArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if !reflect.DeepEqual(in, tt.in) {
			t.Errorf("ScrubPasswordArgs modified its argument")
		}
		if j := strings.Join(got, " "); strings.Contains(j, "Sup3r") || strings.Contains(j, "S3cret") {
			t.Errorf("password left in %q", got)
		}
	}
}

// TestScrubThenParse: the scrubbed command line means the same as the
// original, minus the password, which then comes from the environment.
func TestScrubThenParse(t *testing.T) {
	args := []string{"-fvo", "user=CORP/bob%Sup3r,ro,pass=a,,b,uid=7", "//srv:4455/share/x", "/mnt", "-o", "multichannel,password=z"}
	orig, err := ParseArgs(args, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseArgs(ScrubPasswordArgs(args), envMap(map[string]string{"PASSWD": orig.Password}))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(orig, again) {
		t.Fatalf("after scrubbing:\n got %s\nwant %s", fields(again), fields(orig))
	}
	if orig.Password != "z" || orig.Domain != "CORP" || !orig.ReadOnly || orig.UID != 7 || !orig.Multichannel {
		t.Fatalf("unexpected parse: %s", fields(orig))
	}
}

func TestOptionsHelpers(t *testing.T) {
	o, err := ParseArgs([]string{"//[fe80::1]:4455/share", "/mnt", "-o", "vers=3.02,acdirmax=7"}, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := o.Addr(); got != "[fe80::1]:4455" {
		t.Errorf("Addr() = %q", got)
	}
	if got := o.UNC(); got != "//[fe80::1]:4455/share" {
		t.Errorf("UNC() = %q", got)
	}
	if !reflect.DeepEqual(o.Dialects(), []uint16{0x0302}) {
		t.Errorf("Dialects() = %#x", o.Dialects())
	}
	if o.FileTTL() != time.Second || o.DirTTL() != 7*time.Second {
		t.Errorf("TTLs %v %v", o.FileTTL(), o.DirTTL())
	}
	if !o.NeedsPassword() {
		t.Error("NeedsPassword() = false with no password given")
	}
	for vers, want := range map[string][]uint16{
		"3.0": {0x0300}, "3.1.1": {0x0311}, "3": {0x0300, 0x0302, 0x0311}, "default": {0x0300, 0x0302, 0x0311},
	} {
		if got := (&Options{Vers: vers}).Dialects(); !reflect.DeepEqual(got, want) {
			t.Errorf("Dialects(%s) = %#x", vers, got)
		}
	}
	o, _ = ParseArgs([]string{"//srv/share", "/mnt", "-o", "cache=none,guest"}, envMap(nil))
	if o.FileTTL() != 0 || o.DirTTL() != 0 || o.NeedsPassword() {
		t.Errorf("cache=none,guest: TTLs %v %v NeedsPassword %v", o.FileTTL(), o.DirTTL(), o.NeedsPassword())
	}
}
