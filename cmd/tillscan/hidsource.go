package main

import (
	"github.com/rs/zerolog"

	"github.com/tillscan/tillscan/cmd/tillscan/config"
	"github.com/tillscan/tillscan/scanner"
	"github.com/tillscan/tillscan/scanner/hid"
)

// newHIDSource builds a USB-HID scanner source from its config. The source
// handles hot-plug itself.
func newHIDSource(sc config.Scanner, frame scanner.FrameConfig, log zerolog.Logger) (scanner.Source, error) {
	iface := hid.AnyInterface
	if sc.Interface != nil {
		iface = *sc.Interface
	}
	mode, err := hid.ParseMode(sc.HIDMode)
	if err != nil {
		return nil, err
	}
	return hid.New(hid.Config{
		Name: sc.Name, VID: uint16(sc.VID), PID: uint16(sc.PID), Serial: sc.Serial,
		Interface: iface, Path: sc.USBPath, Layout: sc.Layout, Mode: mode, Frame: frame,
		Feedback: hid.Feedback{Good: sc.Feedback.Good, Bad: sc.Feedback.Bad},
	}, log.With().Str("scanner", sc.Name).Logger(), hid.Hooks{})
}
