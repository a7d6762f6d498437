package config

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// This file reads the file's text before it is decoded, for the mistakes
// an installer makes and the YAML decoder words badly or not at all: a tab
// in the indentation, a duration without a unit or in days, a USB id
// written as a decimal number. Each becomes a FieldError with its line, in
// the installer's words.

// preflight returns the problems it finds in b (a config file), or nil.
func preflight(b []byte) []*FieldError {
	b = bytes.TrimPrefix(b, []byte("\uFEFF")) // a BOM, as Windows editors write it
	if line := tabIndented(b); line > 0 {
		return []*FieldError{{Key: "indentation", Line: line, Err: errors.New("a tab: YAML indents with spaces only; replace the tab with spaces")}}
	}
	f, err := parser.ParseBytes(b, 0)
	if err != nil {
		return nil // the decoder reports it, with its position
	}
	var probs []*FieldError
	kinds := fieldKinds(reflect.TypeOf(Config{}), "")
	for _, doc := range f.Docs {
		walkValues(doc.Body, "", func(path string, n ast.Node) {
			kind, ok := kinds[pattern(path)]
			if !ok {
				return
			}
			if err := checkScalar(kind, n); err != nil {
				probs = append(probs, &FieldError{Key: path, Line: n.GetToken().Position.Line, Err: err})
			}
		})
	}
	return probs
}

// tabIndented is the first line (from 1) whose indentation holds a tab, 0
// if none.
func tabIndented(b []byte) int {
	for i, l := range bytes.Split(b, []byte("\n")) {
		indent := l[:len(l)-len(bytes.TrimLeft(l, " \t"))]
		if bytes.IndexByte(indent, '\t') >= 0 && len(bytes.TrimSpace(l)) > 0 && !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			return i + 1
		}
	}
	return 0
}

// The kinds of scalar preflight checks.
const (
	kindDuration = "duration"
	kindUSBID    = "usb id"
)

// fieldKinds maps the key patterns of t's fields ("queue.retention",
// "scanners[].vid", "modes.*.barcode") to the kind of value they take.
func fieldKinds(t reflect.Type, prefix string) map[string]string {
	out := map[string]string{}
	var walk func(t reflect.Type, prefix string, depth int)
	walk = func(t reflect.Type, prefix string, depth int) {
		if depth > 6 {
			return
		}
		switch {
		case t == reflect.TypeOf(time.Duration(0)):
			out[prefix] = kindDuration
			return
		case t == reflect.TypeOf(HexID(0)):
			out[prefix] = kindUSBID
			return
		}
		switch t.Kind() {
		case reflect.Pointer:
			walk(t.Elem(), prefix, depth+1)
		case reflect.Slice:
			walk(t.Elem(), prefix+"[]", depth+1)
		case reflect.Map:
			walk(t.Elem(), prefix+".*", depth+1)
		case reflect.Struct:
			for i := range t.NumField() {
				f := t.Field(i)
				name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
				if name == "" || name == "-" || !f.IsExported() {
					continue
				}
				p := name
				if prefix != "" {
					p = prefix + "." + name
				}
				walk(f.Type, p, depth+1)
			}
		}
	}
	walk(t, prefix, 0)
	return out
}

var indexes = regexp.MustCompile(`\[\d+\]`)

// pattern turns a value's path ("scanners[0].vid", "modes.redeem.x") into
// the form fieldKinds uses; map keys stay, so both forms are tried by the
// caller through kinds lookups of each.
func pattern(path string) string { return indexes.ReplaceAllString(path, "[]") }

// walkValues calls fn for every scalar value in n with its key path.
func walkValues(n ast.Node, path string, fn func(path string, n ast.Node)) {
	switch v := n.(type) {
	case *ast.MappingNode:
		for _, kv := range v.Values {
			walkValues(kv, path, fn)
		}
	case *ast.MappingValueNode:
		key := v.Key.GetToken().Value
		p := key
		if path != "" {
			p = path + "." + key
		}
		walkValues(v.Value, p, fn)
	case *ast.SequenceNode:
		for i, item := range v.Values {
			walkValues(item, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case *ast.TagNode:
		walkValues(v.Value, path, fn)
	case *ast.AnchorNode:
		walkValues(v.Value, path, fn)
	case *ast.IntegerNode, *ast.FloatNode, *ast.StringNode, *ast.LiteralNode:
		fn(path, n)
	}
}

var inDays = regexp.MustCompile(`^(\d+)\s*(d|day|days|w|week|weeks)$`)

// checkScalar says what is wrong with n as a value of kind.
func checkScalar(kind string, n ast.Node) error {
	text := n.GetToken().Value
	switch kind {
	case kindDuration:
		switch n.(type) {
		case *ast.IntegerNode, *ast.FloatNode:
			return fmt.Errorf("%s: a duration like %ss (a number and a unit: s, m or h)", text, text)
		}
		if m := inDays.FindStringSubmatch(strings.TrimSpace(text)); m != nil {
			v, _ := strconv.Atoi(m[1]) // digits only
			hours := v * 24
			if m[2][0] == 'w' {
				hours = v * 7 * 24
			}
			return fmt.Errorf("%q: durations have no days or weeks; use hours: %dh", text, hours)
		}
		if _, err := time.ParseDuration(strings.TrimSpace(text)); err != nil {
			return fmt.Errorf("%q is not a duration: write it like 10s, 5m or 720h", text)
		}
	case kindUSBID:
		if _, ok := n.(*ast.StringNode); ok {
			return nil // "05e0" (quoted) or 05e0c (letters make it text)
		}
		if strings.HasPrefix(strings.ToLower(text), "0x") {
			return nil
		}
		return fmt.Errorf("%s: write USB ids in hexadecimal, as tillscan devices and lsusb show them: 0x%s (or in quotes: \"%s\")", text, text, text)
	}
	return nil
}
