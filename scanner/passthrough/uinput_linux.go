package passthrough

import "github.com/bendahl/uinput"

// uinputSupported says whether this system has uinput.
const uinputSupported = true

// createKeyboard creates a uinput keyboard through the device at path.
func createKeyboard(path, name string) (keyer, error) {
	return uinput.CreateKeyboard(path, []byte(name))
}
