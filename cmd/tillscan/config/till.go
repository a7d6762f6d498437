package config

import (
	"fmt"
	"time"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/pos"
)

// Till configures the till flow (issue 10): the shop's day, how a
// purchase sum is rounded and where it may come from, and caps.
type Till struct {
	// TimeZone is the shop's time zone, an IANA name like Europe/London:
	// its midnight starts a new day for caps and the day's report. ""
	// means the system's.
	TimeZone string `yaml:"time_zone"`
	// Rounding makes a purchase sum whole for an action the API takes in
	// whole numbers: down (default), nearest or refuse.
	Rounding string `yaml:"rounding"`
	// AmountBarcode is the amount barcode the POS prints on the receipt:
	// a regular expression matching the whole scan with one group, the
	// amount (e.g. `SUM(\d+\.\d\d)`), or gs1 for an amount payable (390n).
	AmountBarcode string `yaml:"amount_barcode"`
	// Caps limit how often one card earns, per card type or template.
	Caps Caps `yaml:"caps"`
	// UndoRepeat lets TILLSCAN:UNDO scanned again take back the action
	// before the one just undone; by default a second UNDO is refused.
	UndoRepeat bool `yaml:"undo_repeat"`
}

// Caps are the caps by card type name and by template id; a template's
// replaces its type's.
type Caps struct {
	Types     map[string]Cap `yaml:"types"`
	Templates map[int]Cap    `yaml:"templates"`
}

// Cap is at most PerDay earning scans per card per shop day (0: no limit)
// and at least MinInterval between two (0: none).
type Cap struct {
	PerDay      int           `yaml:"per_day"`
	MinInterval time.Duration `yaml:"min_interval"`
}

// Location returns the shop's time zone.
func (t Till) Location() (*time.Location, error) {
	if t.TimeZone == "" {
		return time.Local, nil
	}
	loc, err := time.LoadLocation(t.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("%q is not a time zone name like Europe/London: %w", t.TimeZone, err)
	}
	return loc, nil
}

// PosCaps returns the caps as pos applies them, in the shop's time zone.
func (t Till) PosCaps() (pos.Caps, error) {
	loc, err := t.Location()
	if err != nil {
		return pos.Caps{}, fmt.Errorf("till.time_zone: %w", err)
	}
	c := pos.Caps{Location: loc, ByType: map[apiclient.CardType]pos.Cap{}, ByTemplate: map[int]pos.Cap{}}
	for name, cp := range t.Caps.Types {
		ct, err := apiclient.ParseCardType(name)
		if err != nil {
			return pos.Caps{}, fmt.Errorf("till.caps.types.%s: %w", name, err)
		}
		c.ByType[ct] = pos.Cap{PerDay: cp.PerDay, MinInterval: cp.MinInterval}
	}
	for id, cp := range t.Caps.Templates {
		c.ByTemplate[id] = pos.Cap{PerDay: cp.PerDay, MinInterval: cp.MinInterval}
	}
	return c, nil
}

// AmountBarcodeParsed returns the POS's amount barcode, nil if none.
func (t Till) AmountBarcodeParsed() (*pos.AmountBarcode, error) {
	if t.AmountBarcode == "" {
		return nil, nil
	}
	return pos.ParseAmountBarcode(t.AmountBarcode)
}

// problems checks the till settings through pos and the time zone data.
func (t Till) problems(bad func(key string, err error)) {
	if _, err := t.Location(); err != nil {
		bad("till.time_zone", err)
	}
	if _, err := pos.ParseRounding(t.Rounding); err != nil {
		bad("till.rounding", err)
	}
	if _, err := t.AmountBarcodeParsed(); err != nil {
		bad("till.amount_barcode", err)
	}
	check := func(key string, cp Cap) {
		if cp.PerDay < 0 || cp.MinInterval < 0 {
			bad(key, fmt.Errorf("per_day and min_interval must not be negative"))
		}
	}
	for name, cp := range t.Caps.Types {
		if _, err := apiclient.ParseCardType(name); err != nil {
			bad("till.caps.types."+name, err)
		}
		check("till.caps.types."+name, cp)
	}
	for id, cp := range t.Caps.Templates {
		key := fmt.Sprintf("till.caps.templates.%d", id)
		if id <= 0 {
			bad(key, fmt.Errorf("template ids are positive numbers (see GET /templates)"))
		}
		check(key, cp)
	}
}
