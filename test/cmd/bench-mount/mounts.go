package main

// The FUSE contenders: mounting each at a fresh mount point, and unmounting
// it whatever state it is in.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/smbd3/mount.smbd3/test/benchutil"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// mounted is one live FUSE mount.
type mounted struct {
	who  string
	dir  string        // mount point
	root string        // the share's root inside it
	cmd  *exec.Cmd     // the daemon, when it runs in the foreground as our child
	done chan struct{} // closed when cmd has exited
	log  *bytes.Buffer // cmd's output
	conn string        // FUSE connection number (the minor of the mount's device)
}

// mount mounts the share for contender who at a fresh mount point.
func (b *bench) mount(ctx context.Context, who string) (*mounted, error) {
	ctx, cancel := context.WithTimeout(ctx, mountTimeout)
	defer cancel()
	dir, err := os.MkdirTemp(b.work, "mnt-"+who+"-")
	if err != nil {
		return nil, err
	}
	m := &mounted{who: who, dir: dir, root: dir, log: &bytes.Buffer{}}
	srv := b.srv
	switch who {
	case "mount.smbd3":
		bin := b.bin
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("no snapshot of %s (run make build)", b.cfg.bin)
		}
		// The helper returns once the mount is live and leaves its daemon
		// behind, which exits when the mount is unmounted.
		b.active[dir] = m
		if _, err := b.command(ctx, nil, bin, "//"+srv.Host+"/"+srv.Share, dir,
			"-o", fmt.Sprintf("port=%d,username=%s,password=%s", srv.Port, srv.User, srv.Password)); err != nil {
			b.unmount(m)
			return nil, err
		}
	case "rclone", "rclone-writes":
		conf := filepath.Join(b.work, "rclone.conf")
		if err := os.WriteFile(conf, nil, 0o600); err != nil {
			return nil, err
		}
		obscured, err := b.command(ctx, nil, "rclone", "obscure", srv.Password)
		if err != nil {
			return nil, err
		}
		args := []string{"mount", "x:" + srv.Share, dir}
		if who == "rclone-writes" {
			cache := filepath.Join(b.work, "rclone-cache")
			os.RemoveAll(cache) // every step starts cold
			args = append(args, "--vfs-cache-mode", "writes", "--cache-dir", cache)
		}
		m.cmd = exec.Command("rclone", args...)
		m.cmd.Env = append(os.Environ(),
			"RCLONE_CONFIG="+conf,
			"RCLONE_CONFIG_X_TYPE=smb",
			"RCLONE_CONFIG_X_HOST="+srv.Host,
			"RCLONE_CONFIG_X_PORT="+strconv.Itoa(srv.Port),
			"RCLONE_CONFIG_X_USER="+srv.User,
			"RCLONE_CONFIG_X_PASS="+strings.TrimSpace(string(obscured)))
	case "smbnetfs":
		home := filepath.Join(b.work, "smbnetfs-home")
		if err := os.MkdirAll(filepath.Join(home, ".smb"), 0o700); err != nil {
			return nil, err
		}
		// smbnetfs ignores an auth line in a file others can read.
		files := map[string]string{
			"smb.conf": "[global]\n\tclient min protocol = SMB2_10\n\tclient max protocol = SMB3\n\tdisable netbios = yes\n",
			"smbnetfs.conf": fmt.Sprintf("smb_query_browsers \"false\"\nuse_libsecret \"false\"\nauth \"%s\" \"%s\"\nhost \"%s\" visible=true\n",
				srv.User, srv.Password, srv.Host),
		}
		for name, text := range files {
			if err := os.WriteFile(filepath.Join(home, ".smb", name), []byte(text), 0o600); err != nil {
				return nil, err
			}
		}
		m.cmd = exec.Command("smbnetfs", dir, "-f")
		m.cmd.Env = append(os.Environ(), "HOME="+home)
		m.root = filepath.Join(dir, fmt.Sprintf("%s:%d", srv.Host, srv.Port), srv.Share)
	default:
		return nil, fmt.Errorf("no mount for %s", who)
	}
	if m.cmd != nil {
		m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
		m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := m.cmd.Start(); err != nil {
			return nil, err
		}
		m.done = make(chan struct{})
		go func() { m.cmd.Wait(); close(m.done) }()
		b.active[dir] = m
	}
	for {
		if conn, ok := benchutil.MountConn(dir); ok {
			m.conn = conn
			break
		}
		select {
		case <-m.done: // nil for mount.smbd3: never ready
			b.unmount(m)
			return nil, fmt.Errorf("%s exited before mounting: %s", who, benchutil.LastLine(m.log.String()))
		case <-ctx.Done():
			b.unmount(m)
			return nil, fmt.Errorf("not mounted after %v: %s", mountTimeout, benchutil.LastLine(m.log.String()))
		case <-time.After(pollEvery):
		}
	}
	// rclone and smbnetfs connect on first use: touch the share so that no
	// timed command pays for the connection (smbclient's times include it).
	if _, err := statTimeout(ctx, m.root); err != nil {
		b.unmount(m)
		return nil, fmt.Errorf("share root %s: %v: %s", m.root, err, benchutil.LastLine(m.log.String()))
	}
	return m, nil
}

// unmount unmounts m and waits for its daemon; a busy or hung mount has its
// FUSE connection aborted and is detached.
func (b *bench) unmount(m *mounted) error {
	delete(b.active, m.dir)
	ctx, cancel := context.WithTimeout(context.Background(), mountTimeout)
	defer cancel()
	var err error
	if _, ok := benchutil.MountConn(m.dir); ok {
		if _, err = b.command(ctx, nil, "umount", m.dir); err != nil {
			benchutil.AbortConn(m.conn)
			if _, lerr := b.command(ctx, nil, "umount", "-l", m.dir); lerr != nil {
				err = errors.Join(err, lerr)
			}
		}
	}
	if m.cmd != nil {
		select {
		case <-m.done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
			<-m.done
			err = errors.Join(err, fmt.Errorf("%s did not exit after the unmount: killed", m.who))
		}
	}
	os.Remove(m.dir)
	return err
}

// unmountAll cleans up whatever is still mounted when the bench ends.
func (b *bench) unmountAll() {
	for _, m := range b.active {
		if err := b.unmount(m); err != nil {
			logf("cleanup of %s: %v", m.dir, err)
		}
	}
}

// statTimeout is os.Stat bounded by ctx.
func statTimeout(ctx context.Context, p string) (os.FileInfo, error) {
	type result struct {
		fi  os.FileInfo
		err error
	}
	c := make(chan result, 1)
	go func() {
		fi, err := os.Stat(p)
		c <- result{fi, err}
	}()
	select {
	case r := <-c:
		return r.fi, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
