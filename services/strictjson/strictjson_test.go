package strictjson_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/services/strictjson"
)

type member struct {
	UserID string `json:"userId"`
	Role   string `json:"role"`
}

type Base struct {
	App string `json:"app"`
}

type record struct {
	Base
	Content string            `json:"content"`
	IDs     []string          `json:"participantIds"`
	Members []member          `json:"members"`
	Meta    map[string]string `json:"meta"`
	Count   uint8             `json:"count"`
	Pinned  *bool             `json:"pinned"`
	At      time.Time         `json:"at"`
	Extra   json.RawMessage   `json:"extra"`
	Any     any               `json:"any"`
	Ignored string            `json:"-"`
	Plain   string
}

func TestDecodeAcceptsWhatTheContractAllows(t *testing.T) {
	in := `{"app":"geosector","content":"hi","participantIds":["bob",null],"members":[{"userId":"a","role":"admin"}],
		"meta":{"k":"v"},"count":255,"pinned":true,"at":"2026-01-02T03:04:05Z","extra":{"x":[1,{"y":2}]},"any":null,"Plain":"p"}`
	var r record
	if err := strictjson.Decode([]byte(in), &r); err != nil {
		t.Fatal(err)
	}
	if r.App != "geosector" || r.Content != "hi" || len(r.IDs) != 2 || r.Members[0].Role != "admin" || r.Meta["k"] != "v" ||
		r.Count != 255 || !*r.Pinned || r.At.Year() != 2026 || string(r.Extra) != `{"x":[1,{"y":2}]}` || r.Plain != "p" {
		t.Fatalf("decoded %+v", r)
	}
}

func TestDecodeRefusesWithTheFieldAndWhatItExpects(t *testing.T) {
	cases := []struct {
		name, in, want string
		rule           error
	}{
		{"duplicate key", `{"content":"a","content":"b"}`, `content: appears more than once`, strictjson.ErrDuplicateKey},
		{"key in another case", `{"CONTENT":"b"}`, `CONTENT: unknown field; field names are case-sensitive: "content"`, strictjson.ErrKeyCase},
		{"case overriding the exact key", `{"content":"a","Content":"b"}`, `Content: unknown field; field names are case-sensitive: "content"`, strictjson.ErrKeyCase},
		{"embedded field in another case", `{"APP":"x"}`, `APP: unknown field; field names are case-sensitive: "app"`, strictjson.ErrKeyCase},
		{"untagged field in another case", `{"plain":"x"}`, `plain: unknown field; field names are case-sensitive: "Plain"`, strictjson.ErrKeyCase},
		{"nested duplicate", `{"members":[{"userId":"a","role":"x","role":"admin"}]}`, `members[0].role: appears more than once`, strictjson.ErrDuplicateKey},
		{"duplicate in a map", `{"meta":{"k":"a","k":"b"}}`, `meta.k: appears more than once`, strictjson.ErrDuplicateKey},
		{"duplicate inside raw JSON", `{"extra":{"x":{"y":1,"y":2}}}`, `extra.x.y: appears more than once`, strictjson.ErrDuplicateKey},
		{"duplicate inside any", `{"any":[{"a":1,"a":1}]}`, `any[0].a: appears more than once`, strictjson.ErrDuplicateKey},
		{"unknown field", `{"admin":true}`, `admin: unknown field`, nil},
		{"ignored field", `{"Ignored":"x"}`, `Ignored: unknown field`, nil},
		{"string for a list", `{"participantIds":"bob"}`, `participantIds: expected a list of strings, got a string`, nil},
		{"number in a list of strings", `{"participantIds":["a",1]}`, `participantIds[1]: expected a string, got a number`, nil},
		{"list for a string", `{"content":["a"]}`, `content: expected a string, got a list`, nil},
		{"object for a string", `{"members":[{"role":{}}]}`, `members[0].role: expected a string, got an object`, nil},
		{"out of range", `{"count":256}`, `count: expected an integer from 0 to 255, got a number`, nil},
		{"fraction for an integer", `{"count":1.5}`, `count: expected an integer from 0 to 255, got a number`, nil},
		{"string for a bool", `{"pinned":"true"}`, `pinned: expected true or false, got a string`, nil},
		{"bad time", `{"at":"yesterday"}`, `at: expected an RFC 3339 time, got a string`, nil},
		{"list for an object", `[]`, `expected an object, got a list`, nil},
		{"trailing data", `{} {}`, `data after the JSON value`, nil},
		{"trailing brace", `{}}`, `data after the JSON value`, nil},
		{"empty", ``, `no JSON value`, nil},
		{"truncated", `{"content":`, `not valid JSON: it ends early`, nil},
		{"syntax", `{"content" "a"}`, `not valid JSON: invalid character '"' after object key (at byte 11)`, nil},
		{"not UTF-8", "{\"content\":\"\xff\"}", `not UTF-8`, strictjson.ErrInvalidUTF8},
		{"too deep", `{"any":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, "", strictjson.ErrTooDeep},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r record
			err := strictjson.Decode([]byte(tc.in), &r)
			var e *strictjson.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T), want a *strictjson.Error", err, err)
			}
			if tc.want != "" && err.Error() != tc.want {
				t.Fatalf("error %q, want %q", err, tc.want)
			}
			if tc.rule != nil && !errors.Is(err, tc.rule) {
				t.Fatalf("error %q does not say it broke %v", err, tc.rule)
			}
			if strings.Contains(err.Error(), "Go ") || strings.Contains(err.Error(), "strictjson_test") {
				t.Fatalf("error names Go types: %q", err)
			}
		})
	}
}

func TestDecodeIgnoringUnknownSkipsUnknownFieldsOnly(t *testing.T) {
	var r record
	if err := strictjson.DecodeIgnoringUnknown([]byte(`{"content":"a","senderId":"x","later":{"deep":[1]}}`), &r); err != nil || r.Content != "a" {
		t.Fatalf("decoded %+v, %v", r, err)
	}
	for in, rule := range map[string]error{
		`{"content":"a","CONTENT":"b"}`:             strictjson.ErrKeyCase,
		`{"senderId":"x","senderId":"y"}`:           strictjson.ErrDuplicateKey,
		`{"later":{"deep":{"a":1,"a":2}}}`:          strictjson.ErrDuplicateKey,
		`{"content":"a","content":"b"}`:             strictjson.ErrDuplicateKey,
		`{"later":` + strings.Repeat("[", 80) + `}`: strictjson.ErrTooDeep,
	} {
		if err := strictjson.DecodeIgnoringUnknown([]byte(in), &r); !errors.Is(err, rule) {
			t.Errorf("%s: %v, want %v", in, err, rule)
		}
	}
}

// looseDecode is what encoding/json accepts with nothing after the value
// (and, when strict, no unknown field).
func looseDecode(data []byte, v any, strict bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}

func FuzzDecodeAgreesWithEncodingJSONApartFromTheStricterRules(f *testing.F) {
	for _, s := range []string{
		`{"app":"a","content":"hi","participantIds":["b"],"members":[{"userId":"u","role":"r"}],"count":3}`,
		`{"meta":{"a":"b"},"pinned":false,"at":"2026-01-02T03:04:05.5+02:00","extra":[1,"x",{"y":null}],"any":{"a":[]}}`,
		`{"content":"a","CONTENT":"b"}`, `{"members":[{"role":"a","role":"b"}]}`, `{"count":-1}`, `{"count":1e1}`,
		`{"at":"2026-01-02T03:04:05\u005a"}`, `{"Plain":"x","plain":"y"}`, `{"ſ":1}`, `null`, `[]`, `"x"`, `{"pinned":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		check(t, data, strictjson.Decode, true)
		check(t, data, strictjson.DecodeIgnoringUnknown, false)
	})
}

func check(t *testing.T, data []byte, decode func([]byte, any) error, refuseUnknown bool) {
	var strict, loose record
	serr := decode(data, &strict)
	lerr := looseDecode(data, &loose, refuseUnknown)
	if serr == nil {
		if lerr != nil {
			t.Fatalf("strict accepted what encoding/json refuses (%v): %q", lerr, data)
		}
		if !reflect.DeepEqual(strict, loose) {
			t.Fatalf("decoded differently: %+v vs %+v", strict, loose)
		}
		return
	}
	var e *strictjson.Error
	if !errors.As(serr, &e) {
		t.Fatalf("error %v is not a *strictjson.Error", serr)
	}
	stricter := errors.Is(serr, strictjson.ErrDuplicateKey) || errors.Is(serr, strictjson.ErrKeyCase) ||
		errors.Is(serr, strictjson.ErrInvalidUTF8) || errors.Is(serr, strictjson.ErrTooDeep)
	if lerr == nil && !stricter {
		t.Fatalf("refused valid input for no stricter rule (%v): %q", serr, data)
	}
}
