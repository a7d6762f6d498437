package passthrough

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/tillscan/tillscan/scanner/hid"
)

// Open creates a virtual keyboard named name (shown by the OS, at most 80
// bytes) that types on layout (us, uk, de, fr; the POS PC's layout).
func Open(name, layout string) (*Keyboard, error) {
	return openAt(DevicePath, name, layout)
}

func openAt(path, name, layout string) (*Keyboard, error) {
	if !uinputSupported {
		return nil, ErrUnsupported
	}
	l, err := hid.LayoutByName(layout)
	if err != nil {
		return nil, fmt.Errorf("passthrough: %w", err)
	}
	// bendahl/uinput hides why opening failed ("could not open device
	// file"), so look first to name the fix.
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, ErrNoUinput
	case errors.Is(err, os.ErrPermission):
		return nil, fmt.Errorf("%w (%v)", ErrPermission, err)
	case err != nil:
		return nil, fmt.Errorf("passthrough: open %s: %w", path, err)
	}
	f.Close()
	if name == "" {
		name = "tillscan passthrough"
	}
	kb, err := createKeyboard(path, name)
	if err != nil {
		return nil, fmt.Errorf("passthrough: create virtual keyboard %q: %w", name, err)
	}
	return &Keyboard{layout: l, Delay: 2 * time.Millisecond, kb: kb}, nil
}
