// Package events is the catalogue of everything the log records: one Go type per
// event, the envelope every stored message carries, subject names and the
// encode/decode rules. It does no I/O; every other package speaks these types.
package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	// Every consumer decodes every event: a decoder several times faster
	// than encoding/json, writing the same bytes, pays for itself here.
	fastjson "github.com/goccy/go-json"
)

// Version is the first version of every event type. An event whose meaning
// changes gets a new version, never an edit: New writes each type's current
// version (Spec.Version) and readers upgrade older ones (Spec.Upgrades).
const Version = 1

// Actor is who caused an event.
type Actor struct {
	ID   string    `json:"id"`
	Type ActorType `json:"type"`
}

// ActorType says what kind of principal an actor is.
type ActorType string

const (
	ActorUser      ActorType = "user"
	ActorAnonymous ActorType = "anonymous"
	ActorService   ActorType = "service"
	ActorSystem    ActorType = "system"
)

// Envelope is the stored form of every event (PROTOCOL §4). Data stays raw until
// a consumer asks for the typed payload, so consumers that only route on Type
// never pay for decoding it.
type Envelope struct {
	ID   string `json:"id"`
	Type Type   `json:"type"`
	V    int    `json:"v"`
	App  string `json:"app"`
	// At is in microseconds (New truncates), as PostgreSQL keeps times, so
	// what the read model gives back equals what was delivered live.
	At    time.Time       `json:"at"`
	Actor Actor           `json:"actor"`
	Data  json.RawMessage `json:"data"`

	// Seq is the event's position in the stream. It is not part of the stored
	// JSON: the stream assigns it, and consumers fill it in when they read.
	Seq uint64 `json:"-"`

	payload Payload // decoded Data, kept after the first Payload call
}

// ErrUnknownType marks an envelope whose type this build does not know.
var ErrUnknownType = errors.New("unknown event type")

// InvalidError is a payload or envelope that fails validation: the input's
// fault, to be answered as invalid_payload, never a server error.
type InvalidError struct {
	Type Type
	Err  error // names the field, e.g. "content: ..."
}

func (e *InvalidError) Error() string { return fmt.Sprintf("invalid %s: %v", e.Type, e.Err) }
func (e *InvalidError) Unwrap() error { return e.Err }

// New builds an envelope around a typed payload. It validates the payload, so
// no producer can append an event its consumers would refuse.
func New(id, app string, at time.Time, actor Actor, payload Payload) (*Envelope, error) {
	if err := payload.Validate(); err != nil {
		return nil, &InvalidError{Type: payload.EventType(), Err: err}
	}
	if !ValidID(app) {
		return nil, &InvalidError{Type: payload.EventType(), Err: fmt.Errorf("app: invalid id %q", app)}
	}
	data, err := fastjson.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", payload.EventType(), err)
	}
	v := Version
	if s := known.specs[payload.EventType()]; s != nil {
		v = s.Version
	}
	return &Envelope{ID: id, Type: payload.EventType(), V: v, App: app, At: at.UTC().Truncate(time.Microsecond), Actor: actor, Data: data, payload: payload}, nil
}

// Encode returns the stored bytes of an envelope.
func (e *Envelope) Encode() ([]byte, error) { return fastjson.Marshal(e) }

// Decode parses stored bytes into an envelope and checks the fields every
// consumer relies on. It does not decode Data; see Payload.
func Decode(b []byte) (*Envelope, error) {
	var e Envelope
	if err := fastjson.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("decode envelope: %w", err)
	}
	switch {
	case e.ID == "":
		return nil, errors.New("decode envelope: missing id")
	case e.Type == "":
		return nil, errors.New("decode envelope: missing type")
	case !ValidID(e.App):
		return nil, fmt.Errorf("decode envelope %s: invalid app %q", e.ID, e.App)
	case len(e.Data) == 0 || string(e.Data) == "null":
		return nil, fmt.Errorf("decode envelope %s: missing data", e.ID)
	}
	if err := known.checkVersion(&e); err != nil {
		return nil, err
	}
	return &e, nil
}

// Payload decodes the typed payload of an envelope, as its type's current
// version: data stored at an older version is upgraded first (the envelope
// itself, V and Data, stays as stored).
func (e *Envelope) Payload() (Payload, error) {
	if e.payload != nil {
		return e.payload, nil
	}
	p, err := known.payload(e)
	if err != nil {
		return nil, err
	}
	e.payload = p
	return p, nil
}

// Subject is the NATS subject an envelope is stored under.
func (e *Envelope) Subject() (string, error) {
	p, err := e.Payload()
	if err != nil {
		return "", err
	}
	return SubjectOf(e.App, p), nil
}

// StoredUnder reports whether subject is the one the envelope is stored
// under (Subject), without building that.
func (e *Envelope) StoredUnder(subject string) (bool, error) {
	p, err := e.Payload()
	if err != nil {
		return false, err
	}
	return known.storedUnder(subject, e.App, p), nil
}
