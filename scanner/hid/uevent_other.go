//go:build !linux

package hid

import (
	"context"
	"sync"
)

// watchUSB returns nil: without the kernel's device events, Source looks
// for devices every Poll.
func watchUSB(context.Context, *sync.WaitGroup) (<-chan struct{}, error) { return nil, nil }
