package config

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// HexID is a USB vendor or product id, always hexadecimal as lsusb and
// tillscan devices write it: 0x0c2e, or 0c2e. (A YAML number like 1200 is
// refused before decoding: see preflight.)
type HexID uint16

// UnmarshalYAML reads the value as written (a YAML integer such as 0x0c2e
// would reach UnmarshalText as decimal text).
func (h *HexID) UnmarshalYAML(b []byte) error {
	return h.UnmarshalText([]byte(strings.Trim(strings.TrimSpace(string(b)), `"'`)))
}

// UnmarshalText reads "0x0c2e" or bare hex "0c2e".
func (h *HexID) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if p, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		s = p
	}
	v, err := strconv.ParseUint(s, 16, 16)
	if err != nil {
		return fmt.Errorf("%q is not a USB id (want hexadecimal, like 0x0c2e)", string(b))
	}
	*h = HexID(v)
	return nil
}

func (h HexID) String() string { return fmt.Sprintf("%04x", uint16(h)) }

// HexBytes is a byte string written as hex pairs, spaces allowed: "1b 07".
type HexBytes []byte

// UnmarshalText decodes hex pairs.
func (h *HexBytes) UnmarshalText(b []byte) error {
	s := strings.ReplaceAll(strings.TrimSpace(string(b)), " ", "")
	v, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("%q is not hex bytes (want e.g. \"1b 07\")", string(b))
	}
	*h = v
	return nil
}
