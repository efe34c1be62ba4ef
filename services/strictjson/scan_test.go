package strictjson

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

type inner struct {
	UserID string `json:"userId"`
	Role   string `json:"role"`
}

type Embedded struct {
	App string `json:"app"`
}

type sample struct {
	Embedded
	Content string            `json:"content"`
	IDs     []string          `json:"ids"`
	Members []inner           `json:"members"`
	Meta    map[string]string `json:"meta"`
	Count   uint8             `json:"count"`
	Delta   int8              `json:"delta"`
	Ratio   float32           `json:"ratio"`
	Pinned  *bool             `json:"pinned"`
	At      time.Time         `json:"at"`
	Raw     json.RawMessage   `json:"raw"`
	Any     any               `json:"any"`
	Blob    []byte            `json:"blob"`
	Num     json.Number       `json:"num"`
	Pair    [2]int            `json:"pair"`
}

var seeds = []string{
	`{"app":"geosector","content":"hi","ids":["bob",null],"members":[{"userId":"a","role":"admin"}],"meta":{"k":"v"},
	  "count":255,"delta":-128,"ratio":1.5e3,"pinned":true,"at":"2026-01-02T03:04:05Z","raw":{"x":[1,{"y":2}]},
	  "any":[null,true,false,"s",-0.5E-2],"blob":"aGk=","num":12,"pair":[1,2]}`,
	`{"content":"line\nbreak \"quoted\" \u00e9 \\ \/","meta":{},"ids":[],"any":{}}`,
	`{"clientMsgId":"c-1","conversationId":"conv","content":"hello"}`,
	` { "content" : "spaced" , "count" : 0 } `,
	`{"content":"a","content":"b"}`,
	`{"CONTENT":"x"}`,
	`{"raw":{"a":1,"a":2}}`,
	`{"count":256}`,
	`{"at":"yesterday"}`,
	`{"members":[{"userId":"u","role":"r","extra":1}]}`,
	`{"c\u006fntent":"escaped key"}`,
	`[1,2]`,
	`null`,
	`{"any":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
	`{"meta":{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6","g":"7","h":"8","i":"9","j":"10","k":"11","l":"12","m":"13","n":"14","o":"15","p":"16","q":"17","a":"dup"}}`,
}

var sampleType = reflect.TypeFor[sample]()

// The scan may leave good input to the walk, but never lets through input
// the walk refuses: seeds and many random edits of them, strict and not.
func TestVouchNeverPassesWhatTheWalkRefuses(t *testing.T) {
	alphabet := []byte(`{}[]:,"\ 0123456789eE.+-tfnulraxCc` + "\t\n\x01\xff")
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(in []byte) {
		for _, ignore := range []bool{false, true} {
			if vouch(in, sampleType, ignore) {
				if err := walk(in, sampleType, ignore); err != nil {
					t.Fatalf("vouched for %q (ignoring unknown %v), which the walk refuses: %v", in, ignore, err)
				}
			}
		}
	}
	for _, seed := range seeds {
		check([]byte(seed))
		for range 4000 {
			in := []byte(seed)
			for range 1 + rng.IntN(3) {
				i := rng.IntN(len(in) + 1)
				switch rng.IntN(3) {
				case 0: // insert
					in = append(in[:i], append([]byte{alphabet[rng.IntN(len(alphabet))]}, in[i:]...)...)
				case 1: // delete
					if i < len(in) {
						in = append(in[:i], in[i+1:]...)
					}
				case 2: // replace
					if i < len(in) {
						in[i] = alphabet[rng.IntN(len(alphabet))]
					}
				}
			}
			check(in)
		}
	}
}

// The scan vouches for what clients ordinarily send, so it is the path
// taken: values with escapes, unknown fields where they are skipped, any
// shape under any.
func TestVouchAcceptsOrdinaryInput(t *testing.T) {
	for _, c := range []struct {
		in     string
		ignore bool
	}{
		{seeds[0], false},
		{seeds[1], false},
		{seeds[2], true},
		{seeds[3], false},
		{`{"members":[{"userId":"u","role":"r","extra":{"deep":[1,"x"]}}]}`, true},
		{`{"meta":{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6","g":"7","h":"8","i":"9","j":"10","k":"11","l":"12","m":"13","n":"14","o":"15","p":"16","q":"17"}}`, false},
	} {
		if !vouch([]byte(c.in), sampleType, c.ignore) {
			t.Errorf("did not vouch for %s", c.in)
		}
		if err := walk([]byte(c.in), sampleType, c.ignore); err != nil {
			t.Errorf("the walk refuses %s: %v", c.in, err)
		}
	}
}

type sendLike struct {
	ClientMsgID    string `json:"clientMsgId"`
	ConversationID string `json:"conversationId"`
	Content        string `json:"content"`
	ContentType    string `json:"contentType,omitempty"`
	AttachmentID   string `json:"attachmentId,omitempty"`
	ReplyTo        string `json:"replyTo,omitempty"`
}

// A send command as clients publish it.
func BenchmarkDecodeSend(b *testing.B) {
	data := []byte(`{"clientMsgId":"c-000123-abcdef","conversationId":"0f3c9a7e5b1d4e2a8c6b","content":"hello there, an ordinary message"}`)
	b.ReportAllocs()
	for b.Loop() {
		var c sendLike
		if err := DecodeIgnoringUnknown(data, &c); err != nil {
			b.Fatal(err)
		}
	}
}
