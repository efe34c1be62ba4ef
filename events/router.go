package events

import (
	"fmt"
	"runtime"
	"strings"
)

// Router dispatches events to typed handlers by type, one map lookup per
// event. S is what every handler receives first: the consumer's state.
// A consumer declares, once, a handler for each type it acts on (On) and
// the types it deliberately leaves alone (Ignore); its tests check that no
// type in the catalogue is neither (Forgotten).
//
// Handle recovers a handler's panic and returns it as a *PanicError naming
// the event, so the consumer loop can park that event and go on.
type Router[S any] struct {
	name     string
	handlers map[Type]func(S, *Envelope, Payload) error // nil: ignored on purpose
}

// NewRouter returns an empty router for the consumer called name.
func NewRouter[S any](name string) *Router[S] {
	return &Router[S]{name: name, handlers: make(map[Type]func(S, *Envelope, Payload) error, len(Types))}
}

// On declares fn the handler of events whose payload is a P. Declaring a
// type twice, or one outside the catalogue, panics: routers are built at
// start-up.
func On[S any, P Payload](r *Router[S], fn func(S, *Envelope, P) error) {
	t := typeOf[P]()
	r.declare(t)
	r.handlers[t] = func(s S, e *Envelope, p Payload) error { return fn(s, e, p.(P)) }
}

// Ignore declares types the consumer deliberately does nothing with.
func (r *Router[S]) Ignore(types ...Type) {
	for _, t := range types {
		if known.specs[t] == nil {
			panic(fmt.Sprintf("events: %s ignores %q, which is not in the catalogue", r.name, t))
		}
		r.declare(t)
		r.handlers[t] = nil
	}
}

func (r *Router[S]) declare(t Type) {
	if _, dup := r.handlers[t]; dup {
		panic(fmt.Sprintf("events: %s declares %s twice", r.name, t))
	}
}

// typeOf finds the catalogue type whose payload is a P.
func typeOf[P Payload]() Type {
	for _, t := range Types {
		if _, ok := known.specs[t].New().(P); ok {
			return t
		}
	}
	var p P
	panic(fmt.Sprintf("events: %T is not a payload in the catalogue", p))
}

// Handle runs e's handler. Ignored types are not even decoded. A type the
// router does not declare is ignored too: the consumers' tests prove no
// catalogue type is undeclared, and the consumer loop parks types this
// build does not know before they get here. A payload that does not decode
// is returned as the error.
func (r *Router[S]) Handle(s S, e *Envelope) (err error) {
	h := r.handlers[e.Type]
	if h == nil {
		return nil
	}
	p, err := e.Payload()
	if err != nil {
		return err
	}
	defer func() {
		if v := recover(); v != nil {
			err = Recovered(v, e)
		}
	}()
	return h(s, e, p)
}

// Handled lists the types the router has a handler for, in catalogue
// order: with SubjectsOf, what a consumer needs the server to deliver.
func (r *Router[S]) Handled() []Type {
	var out []Type
	for _, t := range Types {
		if r.handlers[t] != nil {
			out = append(out, t)
		}
	}
	return out
}

// Handles reports whether the router has a handler for t.
func (r *Router[S]) Handles(t Type) bool { return r.handlers[t] != nil }

// Ignores reports whether the router declares t ignored.
func (r *Router[S]) Ignores(t Type) bool {
	h, ok := r.handlers[t]
	return ok && h == nil
}

// Forgotten lists the catalogue types the router neither handles nor
// ignores, in catalogue order.
func (r *Router[S]) Forgotten() []Type {
	var out []Type
	for _, t := range Types {
		if _, ok := r.handlers[t]; !ok {
			out = append(out, t)
		}
	}
	return out
}

// PanicError is a handler's panic, recovered: the event it was handling
// (nil when the panic came from outside a router), the panic's value and a
// short stack. The event can never be handled: consumers park it.
type PanicError struct {
	Event *Envelope
	Value any
	Stack string // where it panicked, innermost first, on one line
}

func (e *PanicError) Error() string {
	if e.Event == nil {
		return fmt.Sprintf("handler panicked: %v (at %s)", e.Value, e.Stack)
	}
	return fmt.Sprintf("handler panicked on event %d (%s): %v (at %s)", e.Event.Seq, e.Event.Type, e.Value, e.Stack)
}

// Unwrap returns the panic's value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Recovered makes a PanicError of a value recover returned, with the stack
// of the panicking goroutine; call it from the deferred function itself.
func Recovered(v any, e *Envelope) *PanicError {
	return &PanicError{Event: e, Value: v, Stack: shortStack(4, 6)}
}

// shortStack names up to n frames above skip, outside the runtime, as
// "function (file:line) < caller (file:line)".
func shortStack(skip, n int) string {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(skip, pcs)])
	var b strings.Builder
	for kept := 0; kept < n; {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "runtime.") {
			if kept > 0 {
				b.WriteString(" < ")
			}
			file := f.File
			if i := strings.LastIndexByte(file, '/'); i >= 0 {
				file = file[i+1:]
			}
			fmt.Fprintf(&b, "%s (%s:%d)", f.Function, file, f.Line)
			kept++
		}
		if !more {
			break
		}
	}
	return b.String()
}
