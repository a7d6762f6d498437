// Package safeyaml decodes YAML files a person wrote (tillscan's config,
// the sandbox's seed file) with bounds on what a small hostile file can
// cost: its size, its nesting, and how far its aliases expand. Without
// them a 738-byte "billion laughs" file or 200 KB of nested brackets runs
// the decoder out of memory. It checks the bytes first, then decodes with
// github.com/goccy/go-yaml, whose errors (with line and column) pass
// through unchanged.
package safeyaml

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// The bounds. A config file is a few KB, nested a few levels, and has no
// reason to expand aliases into more than a few thousand nodes.
const (
	MaxBytes      = 1 << 20 // the whole file, unless Limits says otherwise
	MaxIndent     = 256     // columns of indentation on one line
	MaxFlowDepth  = 64      // nested [ ] and { }
	MaxLineDepth  = 32      // "- - - x": block entries opened on one line
	MaxAliasNodes = 10_000  // nodes that expanding the aliases adds to the file's own
)

// Limits adjusts the bounds for one kind of file; the zero value is the
// defaults.
type Limits struct {
	MaxBytes int // 0 means MaxBytes
}

// The ways a file can exceed the bounds; errors match one of them.
var (
	ErrTooLarge  = errors.New("safeyaml: file too large")
	ErrTooDeep   = errors.New("safeyaml: nested too deeply")
	ErrExpansion = errors.New("safeyaml: aliases expand too far")
)

// bom is the UTF-8 byte-order mark some editors write first.
var bom = []byte{0xEF, 0xBB, 0xBF}

// Unmarshal checks b against the default bounds and decodes it into v
// with opts. A leading UTF-8 byte-order mark is ignored.
func Unmarshal(b []byte, v any, opts ...yaml.DecodeOption) error {
	return Limits{}.Unmarshal(b, v, opts...)
}

// ErrDecoder is returned when the decoder itself failed on the file (a
// bug in it, e.g. a panic on "key: ! " with nothing after the tag): the
// file is refused rather than crashing the program.
var ErrDecoder = errors.New("safeyaml: the YAML decoder could not read this file")

// Unmarshal is the package's Unmarshal with l's bounds.
func (l Limits) Unmarshal(b []byte, v any, opts ...yaml.DecodeOption) (err error) {
	b = bytes.TrimPrefix(b, bom)
	if err := l.Check(b); err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w (%v): look for a tag (!) or anchor with no value", ErrDecoder, r)
		}
	}()
	return yaml.UnmarshalWithOptions(b, v, opts...)
}

// Check reports whether b is within the default bounds.
func Check(b []byte) error { return Limits{}.Check(b) }

// Check reports whether b is within l's bounds: its size and nesting from
// the bytes alone, then how far its aliases expand from the parsed tree
// (parsing is linear; expanding is what explodes).
func (l Limits) Check(b []byte) error {
	maxBytes := l.MaxBytes
	if maxBytes <= 0 {
		maxBytes = MaxBytes
	}
	if len(b) > maxBytes {
		return fmt.Errorf("%w: %d bytes (at most %d)", ErrTooLarge, len(b), maxBytes)
	}
	if err := checkNesting(b); err != nil {
		return err
	}
	f, err := parser.ParseBytes(b, 0)
	if err != nil {
		return nil // a syntax error: the decoder reports it with its position
	}
	own := 0 // the file's nodes, aliases not expanded
	for _, d := range f.Docs {
		ast.Walk(walker(func() { own++ }), d)
	}
	c := counter{anchors: map[string]int{}, limit: own + MaxAliasNodes}
	for _, d := range f.Docs {
		c.total = min(c.total+c.size(d.Body), c.limit+1)
	}
	if c.total > c.limit {
		return fmt.Errorf("%w: its aliases add more than %d values once expanded (aliases of aliases: write the values out instead)", ErrExpansion, MaxAliasNodes)
	}
	return nil
}

// walker counts the nodes ast.Walk visits.
type walker func()

func (w walker) Visit(n ast.Node) ast.Visitor {
	w()
	return w
}

// checkNesting bounds how deeply b can nest before any parser sees it:
// flow brackets outside quoted scalars and comments, indentation, and
// block entries opened on one line. Quotes and comments are recognised
// only where YAML allows them to start, so text like "don't" cannot hide
// brackets from the count.
func checkNesting(b []byte) error {
	line, depth := 1, 0
	var quote byte    // the open quote, 0 outside quoted scalars
	var prev byte     // the last character on this line that is not a space, 0 if none
	lineStart := true // only spaces and entry indicators seen on this line so far
	indent, entries := 0, 0
	for i := 0; i < len(b); i++ {
		ch := b[i]
		if ch == '\n' {
			line++
			prev, lineStart, indent, entries = 0, true, 0, 0 // a quoted scalar may span lines: quote stays
			continue
		}
		if quote != 0 {
			if ch == '\\' && quote == '"' {
				i++
			} else if ch == quote {
				quote, prev = 0, ch
			}
			continue
		}
		if ch == ' ' || ch == '\t' {
			if lineStart {
				indent++
				if indent > MaxIndent {
					return fmt.Errorf("%w: line %d is indented more than %d columns", ErrTooDeep, line, MaxIndent)
				}
			}
			continue
		}
		if lineStart && (ch == '-' || ch == '?') && (i+1 == len(b) || b[i+1] == ' ' || b[i+1] == '\n') {
			entries++
			if entries > MaxLineDepth {
				return fmt.Errorf("%w: line %d opens more than %d nested entries", ErrTooDeep, line, MaxLineDepth)
			}
			prev = ch
			continue
		}
		lineStart = false
		switch {
		case ch == '#' && (i == 0 || b[i-1] == ' ' || b[i-1] == '\t' || b[i-1] == '\n'):
			for i+1 < len(b) && b[i+1] != '\n' {
				i++
			}
		case (ch == '\'' || ch == '"') && bytes.IndexByte([]byte{0, ':', ',', '[', '{', '-', '?'}, prev) >= 0:
			quote = ch
		case ch == '[' || ch == '{':
			depth++
			if depth > MaxFlowDepth {
				return fmt.Errorf("%w: line %d nests brackets more than %d deep", ErrTooDeep, line, MaxFlowDepth)
			}
		case ch == ']' || ch == '}':
			depth = max(depth-1, 0)
		}
		prev = ch
	}
	return nil
}

// counter sizes a tree with every alias expanded, each anchor's size
// computed once.
type counter struct {
	anchors map[string]int
	limit   int // sizes saturate just past it
	total   int
}

// size returns the expanded node count of n, saturating past c.limit.
func (c *counter) size(n ast.Node) int {
	sum := func(nodes ...ast.Node) int {
		s := 1
		for _, v := range nodes {
			if v != nil {
				s = min(s+c.size(v), c.limit+1)
			}
		}
		return s
	}
	switch n := n.(type) {
	case nil:
		return 0
	case *ast.MappingNode:
		nodes := make([]ast.Node, len(n.Values))
		for i, v := range n.Values {
			nodes[i] = v
		}
		return sum(nodes...)
	case *ast.MappingValueNode:
		return sum(n.Key, n.Value)
	case *ast.SequenceNode:
		return sum(n.Values...)
	case *ast.TagNode:
		return sum(n.Value)
	case *ast.AnchorNode:
		s := sum(n.Value)
		if n.Name != nil {
			c.anchors[n.Name.String()] = s
		}
		return s
	case *ast.AliasNode:
		if n.Value == nil {
			return 1
		}
		if s, ok := c.anchors[n.Value.String()]; ok {
			return s
		}
		return 1
	}
	return 1
}
