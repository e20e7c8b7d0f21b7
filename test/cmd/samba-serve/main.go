// Command samba-serve starts a throwaway Samba on loopback (the test
// harness's configuration), prints how to mount its share, and keeps it
// running until interrupted: for trying mount.smbd3 by hand.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/smbd3/mount.smbd3/test/samba"
)

func main() {
	srv, err := samba.Launch(samba.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "samba-serve:", err)
		os.Exit(1)
	}
	defer srv.Close()
	fmt.Printf("share directory: %s\n", srv.Dir)
	fmt.Printf("mount: bin/mount.smbd3 //%s/%s MNT -o port=%d,username=%s,password=%s\n",
		srv.Host, srv.Share, srv.Port, srv.User, srv.Password)
	fmt.Printf("smbclient %s\n", fmt.Sprint(srv.SmbclientArgs()))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}
