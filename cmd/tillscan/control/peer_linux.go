package control

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// PeerAllowed checks the credentials of the process at the other end of a
// unix socket connection (SO_PEERCRED): root, the daemon's own user, or a
// user whose groups include the daemon's group (tillscan under systemd).
func PeerAllowed(c net.Conn) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("operator socket: %T is not a unix connection", c)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return fmt.Errorf("operator socket: %w", err)
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return fmt.Errorf("operator socket: %w", err)
	}
	if credErr != nil {
		return fmt.Errorf("operator socket: peer credentials: %w", credErr)
	}
	if cred.Uid == 0 || int(cred.Uid) == os.Getuid() || int(cred.Gid) == os.Getgid() {
		return nil
	}
	u, err := user.LookupId(strconv.Itoa(int(cred.Uid)))
	if err == nil {
		if groups, err := u.GroupIds(); err == nil && slices.Contains(groups, strconv.Itoa(os.Getgid())) {
			return nil
		}
	}
	return fmt.Errorf("operator socket: process %d of user %d: %w", cred.Pid, cred.Uid, ErrPeerRefused)
}
