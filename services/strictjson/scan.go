package strictjson

import (
	"bytes"
	"reflect"
	"strings"
	"time"
)

// vouch reports whether data, one JSON value, keeps every rule the walk
// checks against t, reading the bytes in place: no token values, no
// allocation for the usual command. Whatever it is not sure of (an escaped
// key, a refusal) it leaves to the walk, which says what is wrong; so it
// may answer false for good input, never true for input the walk refuses.
// Every command goes through here, and the walk costs several times more.
func vouch(data []byte, t reflect.Type, ignoreUnknown bool) bool {
	s := scan{data: data, ignoreUnknown: ignoreUnknown}
	if !s.value(t, 0) {
		return false
	}
	s.space()
	return s.i == len(s.data)
}

type scan struct {
	data          []byte
	i             int
	ignoreUnknown bool
}

var mapOfAny = reflect.TypeFor[map[string]any]()

// value reads the next value, as walker.value checks it against t.
func (s *scan) value(t reflect.Type, depth int) bool {
	s.space()
	if s.literal("null") {
		return true // null leaves any target as it is
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		start := s.i
		if !s.str(false) {
			return false
		}
		var at time.Time
		return at.UnmarshalJSON(s.data[start:s.i]) == nil
	case t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(unmarshalerType):
		return s.anyValue(depth)
	case reflect.PointerTo(t).Implements(textUnmarshalerType):
		return s.str(true)
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return s.next('{') && s.object(t, depth+1)
	case reflect.Slice, reflect.Array:
		if s.peek() == '"' {
			return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 && s.str(true)
		}
		return s.next('[') && s.list(t.Elem(), depth+1)
	case reflect.String:
		if s.peek() == '"' {
			return s.str(true)
		}
		return t == numberType && s.number() != nil
	case reflect.Bool:
		return s.literal("true") || s.literal("false")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := s.number()
		return n != nil && fitsInt(string(n), t.Bits())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n := s.number()
		return n != nil && fitsUint(string(n), t.Bits())
	case reflect.Float32, reflect.Float64:
		n := s.number()
		return n != nil && fitsFloat(string(n), t.Bits())
	}
	return false
}

// object reads the members of an object whose '{' was read.
func (s *scan) object(t reflect.Type, depth int) bool {
	if depth > MaxDepth {
		return false
	}
	var fields map[string]reflect.Type
	if t.Kind() == reflect.Struct {
		fields = fieldsOf(t)
	}
	var first [16][]byte
	seen := first[:0]
	var many map[string]struct{}
	if s.space(); s.next('}') {
		return true
	}
	for {
		s.space()
		start := s.i
		if !s.str(false) {
			return false
		}
		key := s.data[start+1 : s.i-1]
		if many != nil {
			if _, dup := many[string(key)]; dup {
				return false
			}
			many[string(key)] = struct{}{}
		} else {
			for _, k := range seen {
				if bytes.Equal(k, key) {
					return false
				}
			}
			if seen = append(seen, key); len(seen) == len(first) {
				// A large map: look keys up instead of comparing each pair.
				many = make(map[string]struct{}, 2*len(first))
				for _, k := range seen {
					many[string(k)] = struct{}{}
				}
			}
		}
		var elem reflect.Type
		if fields == nil {
			elem = t.Elem()
		} else if elem = fields[string(key)]; elem == nil {
			if !s.ignoreUnknown || sameButCase(fields, key) {
				return false
			}
			elem = anyType
		}
		if s.space(); !s.next(':') || !s.value(elem, depth) {
			return false
		}
		if s.space(); s.next('}') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

func sameButCase(fields map[string]reflect.Type, key []byte) bool {
	for name := range fields {
		if strings.EqualFold(name, string(key)) {
			return true
		}
	}
	return false
}

// list reads the elements of a list whose '[' was read.
func (s *scan) list(elem reflect.Type, depth int) bool {
	if depth > MaxDepth {
		return false
	}
	if s.space(); s.next(']') {
		return true
	}
	for {
		if !s.value(elem, depth) {
			return false
		}
		if s.space(); s.next(']') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// anyValue reads a value of any shape, checking its objects for duplicate
// keys and its depth.
func (s *scan) anyValue(depth int) bool {
	switch s.peek() {
	case '{':
		s.i++
		return s.object(mapOfAny, depth+1)
	case '[':
		s.i++
		return s.list(anyType, depth+1)
	case '"':
		return s.str(true)
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	}
	return s.number() != nil
}

func (s *scan) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scan) peek() byte {
	if s.i < len(s.data) {
		return s.data[s.i]
	}
	return 0
}

func (s *scan) next(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

func (s *scan) literal(word string) bool {
	if bytes.HasPrefix(s.data[s.i:], []byte(word)) {
		s.i += len(word)
		return true
	}
	return false
}

// str reads a string, quotes included; with escapes false, one holding a
// backslash is not vouched for (keys and times are compared as written).
// The input is known to be UTF-8.
func (s *scan) str(escapes bool) bool {
	if !s.next('"') {
		return false
	}
	for s.i < len(s.data) {
		c := s.data[s.i]
		s.i++
		switch {
		case c == '"':
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if !escapes || s.i >= len(s.data) {
				return false
			}
			e := s.data[s.i]
			s.i++
			switch e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if s.i+4 > len(s.data) {
					return false
				}
				for _, h := range s.data[s.i : s.i+4] {
					if !isHex(h) {
						return false
					}
				}
				s.i += 4
			default:
				return false
			}
		}
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// number reads a number as JSON writes it and returns its text, or nil.
func (s *scan) number() []byte {
	start := s.i
	s.next('-')
	switch {
	case s.next('0'):
	case '1' <= s.peek() && s.peek() <= '9':
		s.digits()
	default:
		return nil
	}
	if s.next('.') && !s.digits() {
		return nil
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if !s.next('+') {
			s.next('-')
		}
		if !s.digits() {
			return nil
		}
	}
	return s.data[start:s.i]
}

// digits reads one digit or more.
func (s *scan) digits() bool {
	start := s.i
	for '0' <= s.peek() && s.peek() <= '9' {
		s.i++
	}
	return s.i > start
}
