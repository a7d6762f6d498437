package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/tillscan/tillscan/cmd/tillscan/config"
	"github.com/tillscan/tillscan/cmd/tillscan/control"
)

// This file finds the operator socket for the command line: the daemon's
// (status.socket in the config), or, when there is no config file, a
// running `tillscan demo`'s.

// demoSocket is where `tillscan demo` serves its operator socket, one per
// user, so `tillscan queue …` finds a running demo without a config file.
func demoSocket() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("tillscan-demo-%d.sock", os.Getuid()))
}

// errNoDaemon: nothing answers on the operator socket (the daemon is
// stopped, or its socket is off).
var errNoDaemon = errors.New("the daemon is not running")

// loadOrDemo loads the config at path; when path is the default and does
// not exist, it returns cfg nil and the socket of a running demo, if one
// runs. Otherwise it returns the config's error.
func loadOrDemo(path string) (cfg *config.Config, socket string, err error) {
	cfg, err = config.Load(path)
	if err == nil {
		return cfg, cfg.Status.Socket, nil
	}
	if errors.Is(err, fs.ErrNotExist) && path == config.DefaultPath && ownSocket(demoSocket()) {
		return nil, demoSocket(), nil
	}
	return nil, "", err
}

// socketClient returns a client of the daemon's operator socket, checked
// with one status request; errNoDaemon if nothing answers there.
func socketClient(ctx context.Context, path string) (*control.Client, error) {
	if path == "" || path == "off" {
		return nil, errNoDaemon
	}
	c := control.NewSocketClient(path, 30*time.Second)
	if _, err := c.Status(ctx); err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, fs.ErrNotExist) {
			return nil, errNoDaemon
		}
		if errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("operator socket %s: %w (run as root, or add your user to group tillscan)", path, err)
		}
		return nil, fmt.Errorf("operator socket %s: %w", path, err)
	}
	return c, nil
}
