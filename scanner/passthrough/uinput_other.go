//go:build !linux

package passthrough

// uinputSupported says whether this system has uinput.
const uinputSupported = false

func createKeyboard(path, name string) (keyer, error) { return nil, ErrUnsupported }
