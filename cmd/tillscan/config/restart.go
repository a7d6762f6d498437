package config

import (
	"reflect"
	"slices"
	"strings"
)

// applied says what a reload (SIGHUP) does with a changed setting.
type applied int

const (
	// unclassified: a setting missing from reloadable; treated as
	// onRestart, the safe side.
	unclassified applied = iota
	// onReload: the daemon applies the new value on reload.
	onReload
	// onRestart: the value is read once at start; a change waits for a
	// restart.
	onRestart
	// modeBarcodes: modes.*.barcode needs a restart (the till's command
	// table is built once), modes.*.rules and templates are applied.
	modeBarcodes
)

// reloadable classifies every setting, by its key in the file. A key
// whose value is a struct may be classified as a whole or field by field.
// TestEveryFieldClassified fails when a field is added to Config and not
// listed here, so a new setting cannot be silently ignored by a reload.
var reloadable = map[string]applied{
	"till_id":            onRestart,
	"state_dir":          onRestart,
	"log.level":          onReload,
	"log.format":         onRestart,
	"api.base_url":       onRestart,
	"api.key_file":       onReload,
	"api.rate_limit":     onRestart,
	"api.timeout":        onRestart,
	"api.adaptive":       onRestart,
	"api.shared_limiter": onRestart,
	"scanners":           onRestart,
	"card_pattern":       onRestart,
	"dedupe_window":      onRestart,
	"rules":              onReload,
	"templates":          onReload,
	"modes":              modeBarcodes,
	"comment":            onReload,
	"currency":           onRestart,
	"status":             onRestart,
	"queue":              onRestart,
	"worker":             onRestart,

	// The till flow: read once when the till starts, but the rounding,
	// which is part of the rules.
	"till.time_zone":      onRestart,
	"till.rounding":       onReload, // part of the rules
	"till.amount_barcode": onRestart,
	"till.caps":           onRestart,
	"till.undo_repeat":    onRestart,
}

// NeedsRestart returns the keys, sorted, whose values differ between c and
// old but that a reload cannot apply: the running daemon keeps the old
// values until it is restarted.
func (c *Config) NeedsRestart(old *Config) []string {
	var keys []string
	walkSettings(reflect.ValueOf(old).Elem(), reflect.ValueOf(c).Elem(), "", func(key string, how applied, was, now reflect.Value) {
		switch how {
		case onRestart, unclassified:
			if !reflect.DeepEqual(was.Interface(), now.Interface()) {
				keys = append(keys, key)
			}
		case modeBarcodes:
			if modeBarcodeList(was.Interface().(map[string]Mode)) != modeBarcodeList(now.Interface().(map[string]Mode)) {
				keys = append(keys, key+" (barcodes)")
			}
		}
	})
	slices.Sort(keys)
	return keys
}

// walkSettings calls f for every setting of the two Config values: the
// keys reloadable classifies, and every other field that is not a struct
// (as unclassified).
func walkSettings(was, now reflect.Value, prefix string, f func(key string, how applied, was, now reflect.Value)) {
	t := was.Type()
	for i := range t.NumField() {
		field := t.Field(i)
		name, _, _ := strings.Cut(field.Tag.Get("yaml"), ",")
		if name == "" {
			name = strings.ToLower(field.Name)
		}
		key := prefix + name
		if how, ok := reloadable[key]; ok {
			f(key, how, was.Field(i), now.Field(i))
			continue
		}
		if field.Type.Kind() == reflect.Struct {
			walkSettings(was.Field(i), now.Field(i), key+".", f)
			continue
		}
		f(key, unclassified, was.Field(i), now.Field(i))
	}
}

func modeBarcodeList(modes map[string]Mode) string {
	var b []string
	for name, m := range modes {
		b = append(b, name+"="+m.Barcode)
	}
	slices.Sort(b)
	return strings.Join(b, ",")
}
