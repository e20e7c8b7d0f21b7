module github.com/smbd3/mount.smbd3

go 1.26

require (
	github.com/dustin/go-humanize v1.0.1
	github.com/hanwen/go-fuse/v2 v2.12.1
	github.com/hirochachacha/go-smb2 v1.1.0
	golang.org/x/crypto v0.45.0
	golang.org/x/sys v0.38.0
)

require github.com/geoffgarside/ber v1.1.0 // indirect
