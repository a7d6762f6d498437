package config

import (
	"fmt"

	"github.com/rs/zerolog"

	"github.com/tillscan/tillscan/scanner"
	"github.com/tillscan/tillscan/scanner/hid"
)

// The scanner types a config can name; cmd/tillscan builds a source for
// each.
const (
	TypeSerial = "serial"
	TypeHID    = "hid"
	TypeStdin  = "stdin"
)

// FrameConfig is how the scanner's bytes are split into scans.
func (s Scanner) FrameConfig() (scanner.FrameConfig, error) {
	term, err := scanner.ParseTerminator(s.Terminator)
	if err != nil {
		return scanner.FrameConfig{}, err
	}
	return scanner.FrameConfig{Terminator: term, IdleTimeout: s.IdleTimeout, Prefix: s.Prefix, Suffix: s.Suffix}, nil
}

// SerialConfig is the scanner package's config for a serial scanner.
func (s Scanner) SerialConfig() (scanner.SerialConfig, error) {
	frame, err := s.FrameConfig()
	if err != nil {
		return scanner.SerialConfig{}, err
	}
	stop := 0.0
	switch s.StopBits {
	case "", "1":
		stop = 1
	case "2":
		stop = 2
	default:
		return scanner.SerialConfig{}, fmt.Errorf("stop_bits %q: want 1 or 2", s.StopBits)
	}
	return scanner.SerialConfig{
		Name: s.Name, Path: s.Path, Baud: s.Baud, DataBits: s.DataBits, Parity: s.Parity, StopBits: stop,
		Frame: frame, GoodRead: s.Feedback.Good, BadRead: s.Feedback.Bad,
	}, nil
}

// HIDConfig is the hid package's config for a USB-HID scanner.
func (s Scanner) HIDConfig() (hid.Config, error) {
	frame, err := s.FrameConfig()
	if err != nil {
		return hid.Config{}, err
	}
	mode, err := hid.ParseMode(s.HIDMode)
	if err != nil {
		return hid.Config{}, err
	}
	iface := hid.AnyInterface
	if s.Interface != nil {
		iface = *s.Interface
	}
	return hid.Config{
		Name: s.Name, VID: uint16(s.VID), PID: uint16(s.PID), Serial: s.Serial,
		Interface: iface, Path: s.USBPath, Layout: s.Layout, Mode: mode, Frame: frame,
		Feedback: hid.Feedback{Good: s.Feedback.Good, Bad: s.Feedback.Bad},
	}, nil
}

// check checks the scanner's settings through the scanner packages' own
// parsers, each under its key, then, if those pass, builds the scanner
// the way the daemon will with the packages' constructors (which open
// nothing), so every rule about a scanner has one owner. bad gets the key
// below the scanner's own (".layout") or "" for the scanner as a whole.
func (s Scanner) check(bad func(sub string, err error)) {
	n := 0
	field := func(sub string, err error) {
		if err != nil {
			bad(sub, err)
			n++
		}
	}
	_, err := scanner.ParseTerminator(s.Terminator)
	field(".terminator", err)
	switch s.Type {
	case TypeSerial:
		if s.Path == "" {
			field(".path", fmt.Errorf("a serial scanner needs a port path, e.g. /dev/serial/by-id/usb-…-if00 (see `tillscan devices`)"))
		}
		if n == 0 {
			sc, err := s.SerialConfig()
			if err == nil {
				_, err = scanner.NewSerial(sc, zerolog.Nop())
			}
			field("", err)
		}
	case TypeHID:
		if s.VID == 0 || s.PID == 0 {
			field("", fmt.Errorf("a hid scanner needs vid and pid, e.g. vid: 0x0c2e, pid: 0x0b61 (see `tillscan devices`)"))
		}
		_, err := hid.LayoutByName(s.Layout)
		field(".layout", err)
		_, err = hid.ParseMode(s.HIDMode)
		field(".hid_mode", err)
		if n == 0 {
			hc, err := s.HIDConfig()
			if err == nil {
				_, err = hid.New(hc, zerolog.Nop(), hid.Hooks{})
			}
			field("", err)
		}
	case TypeStdin:
		if n == 0 {
			f, err := s.FrameConfig()
			if err == nil {
				_, err = scanner.NewFramer(f)
			}
			field("", err)
		}
	default:
		field(".type", fmt.Errorf("%q: want %s, %s or %s", s.Type, TypeSerial, TypeHID, TypeStdin))
	}
}
