// Command mount.smbd3 mounts an SMB3 share with FUSE (see README.md).
package main

import (
	"fmt"
	"os"
)

func main() {
	o, err := ParseArgs(os.Args[1:], nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mount.smbd3:", err)
		os.Exit(1)
	}
	if o.ShowHelp {
		fmt.Print(optionsUsage)
		return
	}
	fmt.Fprintln(os.Stderr, "mount.smbd3: mounting is not implemented yet")
	os.Exit(32)
}
