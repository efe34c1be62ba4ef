// Package strictjson decodes JSON input the way the contract reads it: keys
// match field names exactly, no key appears twice at any depth, no unknown
// field, nothing after the value, UTF-8 only.
//
// encoding/json matches keys case-insensitively and lets the last of two equal
// keys win, so {"content":"hi","CONTENT":"…"} would mean one thing to a reader
// of the payload and another to the decoder. Decode first walks the input's
// tokens alongside the target's type, refusing what the contract refuses with
// a message that names the field and what it expects, then decodes. A scan
// of the bytes in place vouches for most good input first, so only input it
// cannot vouch for pays for the token walk.
package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// MaxDepth bounds how deeply objects and lists may nest.
const MaxDepth = 64

// The rules stricter than encoding/json; an *Error wraps one of these when
// the input broke it.
var (
	ErrInvalidUTF8  = errors.New("not UTF-8")
	ErrDuplicateKey = errors.New("duplicate key")
	ErrKeyCase      = errors.New("key in another case")
	ErrTooDeep      = errors.New("nested too deeply")
)

// Error says where the input is wrong and what was expected. Its text names
// fields as the input spells them (members[0].role), never Go types.
type Error struct {
	Path string // empty for the whole input
	Msg  string
	rule error
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Unwrap is the stricter rule broken, if any.
func (e *Error) Unwrap() error { return e.rule }

// Decode decodes data, one JSON value, into the value v points to, refusing
// keys that name no field. Every error it returns is an *Error.
func Decode(data []byte, v any) error { return decode(data, v, false) }

// DecodeIgnoringUnknown is Decode for inputs where a field the target lacks
// is skipped (old clients still send fields the contract dropped), though
// still checked for duplicate keys; a key that differs from a field only in
// case is refused all the same.
func DecodeIgnoringUnknown(data []byte, v any) error { return decode(data, v, true) }

func decode(data []byte, v any, ignoreUnknown bool) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic("strictjson: Decode needs a non-nil pointer")
	}
	if !utf8.Valid(data) {
		return &Error{Msg: "not UTF-8", rule: ErrInvalidUTF8}
	}
	if !vouch(data, rv.Type().Elem(), ignoreUnknown) {
		if err := walk(data, rv.Type().Elem(), ignoreUnknown); err != nil {
			return err
		}
	}
	// The input is one value, every key of a struct is a field's exact
	// name (or skipped as unknown): what encoding/json may still match
	// case-insensitively is exact.
	if err := json.Unmarshal(data, v); err != nil {
		return translate(err)
	}
	return nil
}

// walk checks data against t token by token, refusing what the contract
// refuses with a message that names the field.
func walk(data []byte, t reflect.Type, ignoreUnknown bool) error {
	w := walker{dec: json.NewDecoder(bytes.NewReader(data)), ignoreUnknown: ignoreUnknown}
	w.dec.UseNumber()
	if err := w.value(t, "", 0); err != nil {
		return err
	}
	if _, err := w.dec.Token(); err != io.EOF {
		return &Error{Msg: "data after the JSON value"}
	}
	return nil
}

var (
	timeType            = reflect.TypeFor[time.Time]()
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	numberType          = reflect.TypeFor[json.Number]()
	anyType             = reflect.TypeFor[any]()
)

type walker struct {
	dec           *json.Decoder
	ignoreUnknown bool
	started       bool // a token was read: the end of the input now comes too early
}

func (w *walker) token() (json.Token, error) {
	tok, err := w.dec.Token()
	if errors.Is(err, io.EOF) && w.started {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, syntaxError(err)
	}
	w.started = true
	return tok, nil
}

// value checks the next value of the input against t.
func (w *walker) value(t reflect.Type, path string, depth int) error {
	tok, err := w.token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil // null leaves any target as it is, as encoding/json does
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	mismatch := func() error {
		return &Error{Path: path, Msg: "expected " + describe(t) + ", got " + describeToken(tok)}
	}
	switch {
	case t == timeType:
		s, ok := tok.(string)
		var at time.Time
		if !ok || at.UnmarshalJSON([]byte(`"`+s+`"`)) != nil {
			return mismatch()
		}
		return nil
	case t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(unmarshalerType):
		return w.anyValue(tok, path, depth) // any, json.RawMessage: only duplicates are ours to check
	case reflect.PointerTo(t).Implements(textUnmarshalerType):
		if _, ok := tok.(string); !ok {
			return mismatch()
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		if tok != json.Delim('{') {
			return mismatch()
		}
		return w.object(t, path, depth+1)
	case reflect.Slice, reflect.Array:
		if _, ok := tok.(string); ok && t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			return nil // []byte is base64 text; the decoder checks it
		}
		if tok != json.Delim('[') {
			return mismatch()
		}
		return w.list(t.Elem(), path, depth+1)
	case reflect.String:
		if _, ok := tok.(string); ok {
			return nil
		}
		if _, ok := tok.(json.Number); ok && t == numberType {
			return nil
		}
		return mismatch()
	case reflect.Bool:
		if _, ok := tok.(bool); !ok {
			return mismatch()
		}
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n, ok := tok.(json.Number); !ok || !fitsInt(string(n), t.Bits()) {
			return mismatch()
		}
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if n, ok := tok.(json.Number); !ok || !fitsUint(string(n), t.Bits()) {
			return mismatch()
		}
		return nil
	case reflect.Float32, reflect.Float64:
		if n, ok := tok.(json.Number); !ok || !fitsFloat(string(n), t.Bits()) {
			return mismatch()
		}
		return nil
	}
	return &Error{Path: path, Msg: "cannot be decoded"}
}

func fitsInt(s string, bits int) bool {
	_, err := strconv.ParseInt(s, 10, bits)
	return err == nil
}

func fitsUint(s string, bits int) bool {
	_, err := strconv.ParseUint(s, 10, bits)
	return err == nil
}

func fitsFloat(s string, bits int) bool {
	_, err := strconv.ParseFloat(s, bits)
	return err == nil
}

// object checks the members of an object whose '{' was read: a struct's
// keys must be its exact field names, a map's any string.
func (w *walker) object(t reflect.Type, path string, depth int) error {
	if depth > MaxDepth {
		return tooDeep(path)
	}
	var fields map[string]reflect.Type
	if t.Kind() == reflect.Struct {
		fields = fieldsOf(t)
	}
	seen := map[string]bool{}
	for w.dec.More() {
		tok, err := w.token()
		if err != nil {
			return err
		}
		key, _ := tok.(string) // the decoder only yields string keys in objects
		at := join(path, key)
		if seen[key] {
			return &Error{Path: at, Msg: "appears more than once", rule: ErrDuplicateKey}
		}
		seen[key] = true
		var elem reflect.Type
		if fields == nil {
			elem = t.Elem()
		} else if elem = fields[key]; elem == nil {
			if err := w.unknownField(fields, at, key); err != nil {
				return err
			}
			elem = anyType // skipped, but checked like any value
		}
		if err := w.value(elem, at, depth); err != nil {
			return err
		}
	}
	_, err := w.token() // '}'
	return err
}

// unknownField refuses a key that names no field, unless unknown fields are
// ignored and it does not differ from a field in case only.
func (w *walker) unknownField(fields map[string]reflect.Type, at, key string) error {
	for name := range fields {
		if strings.EqualFold(name, key) {
			return &Error{Path: at, Msg: fmt.Sprintf("unknown field; field names are case-sensitive: %q", name), rule: ErrKeyCase}
		}
	}
	if w.ignoreUnknown {
		return nil
	}
	return &Error{Path: at, Msg: "unknown field"}
}

// list checks the elements of a list whose '[' was read.
func (w *walker) list(elem reflect.Type, path string, depth int) error {
	if depth > MaxDepth {
		return tooDeep(path)
	}
	for i := 0; w.dec.More(); i++ {
		if err := w.value(elem, path+"["+strconv.Itoa(i)+"]", depth); err != nil {
			return err
		}
	}
	_, err := w.token() // ']'
	return err
}

// anyValue checks a value of any shape, whose first token was read, for
// duplicate keys and depth.
func (w *walker) anyValue(tok json.Token, path string, depth int) error {
	switch tok {
	case json.Delim('{'):
		return w.object(reflect.TypeFor[map[string]any](), path, depth+1)
	case json.Delim('['):
		return w.list(anyType, path, depth+1)
	}
	return nil
}

func tooDeep(path string) error {
	return &Error{Path: path, Msg: fmt.Sprintf("nested more than %d levels deep", MaxDepth), rule: ErrTooDeep}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// fieldsOf maps a struct's JSON names, as encoding/json sees them, to the
// fields' types; fields of embedded structs count as the outer struct's
// unless it has a field of that name.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	out := map[string]reflect.Type{}
	var embedded []reflect.Type
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				embedded = append(embedded, ft)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	for _, e := range embedded {
		for name, ft := range fieldsOf(e) {
			if _, ok := out[name]; !ok {
				out[name] = ft
			}
		}
	}
	fieldCache.Store(t, out)
	return out
}

// describe names what a value of type t looks like in JSON.
func describe(t reflect.Type) string {
	one, _ := nouns(t)
	return one
}

// nouns names one value of type t and several of them.
func nouns(t reflect.Type) (one, many string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return "an RFC 3339 time", "RFC 3339 times"
	case t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(unmarshalerType):
		return "any JSON value", "JSON values"
	case reflect.PointerTo(t).Implements(textUnmarshalerType):
		return "a string", "strings"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string", "strings"
	case reflect.Bool:
		return "true or false", "true or false values"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer" + bounds(t), "integers" + bounds(t)
	case reflect.Float32, reflect.Float64:
		return "a number", "numbers"
	case reflect.Struct, reflect.Map:
		return "an object", "objects"
	case reflect.Slice, reflect.Array:
		_, elems := nouns(t.Elem())
		return "a list of " + elems, "lists of " + elems
	}
	return "a value", "values"
}

// bounds says the range of the small integer types, where "an integer" alone
// would not explain why 300 is refused.
func bounds(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return fmt.Sprintf(" from %d to %d", -1<<(t.Bits()-1), 1<<(t.Bits()-1)-1)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return fmt.Sprintf(" from 0 to %d", uint64(1)<<t.Bits()-1)
	case reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return " from 0"
	}
	return ""
}

func describeToken(tok json.Token) string {
	switch tok.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "true or false"
	}
	if tok == json.Delim('{') {
		return "an object"
	}
	return "a list"
}

func syntaxError(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return &Error{Msg: fmt.Sprintf("not valid JSON: %s (at byte %d)", se.Error(), se.Offset)}
	case errors.Is(err, io.EOF):
		return &Error{Msg: "no JSON value"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Msg: "not valid JSON: it ends early"}
	}
	return &Error{Msg: "not valid JSON"}
}

// translate words an error of the final decoding, which the walk makes rare.
func translate(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return &Error{Path: te.Field, Msg: "expected " + describe(te.Type)}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
		return syntaxError(err)
	}
	return &Error{Msg: "a value is not valid for its field"}
}
