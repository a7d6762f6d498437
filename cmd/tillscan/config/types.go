package config

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// HexID is a USB vendor or product id, written 0x0c2e, 0c2e or 3118.
type HexID uint16

// UnmarshalText accepts "0x0c2e" and bare hex "0c2e"; YAML integers arrive
// here as decimal text.
func (h *HexID) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	base := 10
	if strings.HasPrefix(strings.ToLower(s), "0x") {
		s, base = s[2:], 16
	} else if strings.ContainsAny(strings.ToLower(s), "abcdef") || (len(s) == 4 && s[0] == '0') {
		base = 16 // "0c2e" or "0483"
	}
	v, err := strconv.ParseUint(s, base, 16)
	if err != nil {
		return fmt.Errorf("%q is not a USB id (want 0x0c2e)", string(b))
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
