package control

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"time"
)

// This file holds the operator socket: a unix socket (/run/tillscan/control.sock
// under systemd) that serves every endpoint, the queue's operator
// endpoints included. The socket file's mode (0660, the daemon's group)
// decides who may connect, and the peer's credentials are checked again on
// every connection (PeerAllowed). TCP serves only what Handler serves.

// SocketHandler returns the handler of the operator socket: every
// endpoint, without the browser checks (a web page cannot reach a unix
// socket) and without the POS token (the peer's credentials stand for it).
func (s *Server) SocketHandler() http.Handler {
	mux := s.publicMux()
	mux.HandleFunc("POST /api/v1/next", s.next)
	mux.HandleFunc("POST /api/v1/scans", s.scan)
	mux.HandleFunc("POST /api/v1/undo", s.undo)
	s.routeJobs(mux)
	return mux
}

// ListenSocket makes the operator socket at path: a stale socket file from
// an earlier run is replaced (a live one is not: another daemon answers
// there), and the socket is made mode 0660 so that the daemon's group may
// connect.
func ListenSocket(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("operator socket %s: a file that is not a socket is in the way: remove it", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("operator socket %s: another tillscan answers there (stop it, or set status.socket)", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("operator socket: remove the stale %s: %w", path, err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("operator socket: %w (under systemd, RuntimeDirectory=tillscan makes /run/tillscan)", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("operator socket: %w", err)
	}
	return ln, nil
}

// ServeSocket serves SocketHandler on ln (from ListenSocket) until ctx
// ends, closing every connection whose peer PeerAllowed refuses.
func (s *Server) ServeSocket(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, peerChecked{Listener: ln, s: s}, s.SocketHandler())
}

// peerChecked accepts only connections from an allowed peer.
type peerChecked struct {
	net.Listener
	s *Server
}

func (l peerChecked) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if err := PeerAllowed(c); err != nil {
			l.s.log.Warn().Err(err).Msg("operator socket: connection refused")
			c.Close()
			continue
		}
		return c, nil
	}
}

// ErrPeerRefused is returned by PeerAllowed for a peer that is neither
// root, nor the daemon's user, nor in the daemon's group.
var ErrPeerRefused = errors.New("not root, the daemon's user or a member of its group")
