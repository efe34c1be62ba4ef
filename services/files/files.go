// Package files keeps uploaded files in JetStream's object store (bucket
// jet.FilesBucket), streamed in and out in chunks so memory stays flat
// whatever a file's size, and removes the uploads no message took up.
// Who may read a file is decided on the log (services/decide, files.go);
// this package only moves bytes.
package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/services/jet"
)

// ErrNotFound is a file the store does not hold.
var ErrNotFound = errors.New("no such file")

// Store is the files' object store.
type Store struct{ obs jetstream.ObjectStore }

// Open returns the store declared by jet.EnsureStreams.
func Open(ctx context.Context, js jetstream.JetStream) (*Store, error) {
	obs, err := js.ObjectStore(ctx, jet.FilesBucket)
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", jet.FilesBucket, err)
	}
	return &Store{obs: obs}, nil
}

// Object is one stored file as the store describes it.
type Object struct {
	App, ID, ConversationID string
	Size                    int64
	StoredAt                time.Time
}

// name is a file's object name: ids hold no dot, so it names one file of
// one application.
func name(app, id string) string { return app + "." + id }

// Put stores r as file id of app, uploaded for conversation. On error
// nothing is kept (the object store purges what it wrote).
func (s *Store) Put(ctx context.Context, app, id, conversation string, r io.Reader) (Object, error) {
	info, err := s.obs.Put(ctx, jetstream.ObjectMeta{Name: name(app, id),
		Metadata: map[string]string{"conversation": conversation}}, r)
	if err != nil {
		return Object{}, fmt.Errorf("store file %s: %w", id, err)
	}
	return objectOf(info), nil
}

// Info describes file id of app.
func (s *Store) Info(ctx context.Context, app, id string) (Object, error) {
	info, err := s.obs.GetInfo(ctx, name(app, id))
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return Object{}, ErrNotFound
	}
	if err != nil {
		return Object{}, fmt.Errorf("file %s: %w", id, err)
	}
	return objectOf(info), nil
}

// Delete removes file id of app; a file already gone is no error.
func (s *Store) Delete(ctx context.Context, app, id string) error {
	err := s.obs.Delete(ctx, name(app, id))
	if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("delete file %s: %w", id, err)
	}
	return nil
}

// List describes every stored file.
func (s *Store) List(ctx context.Context) ([]Object, error) {
	infos, err := s.obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list files: %w", err)
	}
	out := make([]Object, 0, len(infos))
	for _, info := range infos {
		out = append(out, objectOf(info))
	}
	return out, nil
}

func objectOf(info *jetstream.ObjectInfo) Object {
	app, id, _ := strings.Cut(info.Name, ".")
	return Object{App: app, ID: id, ConversationID: info.Metadata["conversation"], Size: int64(info.Size), StoredAt: info.ModTime}
}

// Reader reads file id of app, of size bytes, as an io.ReadSeeker for
// http.ServeContent (range requests): a seek costs nothing until the next
// read, which streams the object from there (skipping what comes before).
func (s *Store) Reader(ctx context.Context, app, id string, size int64) *Reader {
	return &Reader{ctx: ctx, obs: s.obs, name: name(app, id), size: size}
}

// Reader is a lazily opened, seekable view of one stored file.
type Reader struct {
	ctx  context.Context
	obs  jetstream.ObjectStore
	name string
	size int64
	off  int64 // where the next read starts
	r    io.ReadCloser
	at   int64 // where r stands
}

// Seek sets where the next read starts.
func (o *Reader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += o.off
	case io.SeekEnd:
		offset += o.size
	}
	if offset < 0 {
		return 0, errors.New("seek before the start of the file")
	}
	o.off = offset
	return offset, nil
}

// Read streams the object from the current offset.
func (o *Reader) Read(p []byte) (int, error) {
	if o.off >= o.size {
		return 0, io.EOF
	}
	if o.r != nil && o.at != o.off {
		_ = o.r.Close()
		o.r = nil
	}
	if o.r == nil {
		r, err := o.obs.Get(o.ctx, o.name)
		if err != nil {
			return 0, fmt.Errorf("read file: %w", err)
		}
		if _, err := io.CopyN(io.Discard, r, o.off); err != nil {
			_ = r.Close()
			return 0, fmt.Errorf("read file: %w", err)
		}
		o.r, o.at = r, o.off
	}
	n, err := o.r.Read(p)
	o.at += int64(n)
	o.off = o.at
	return n, err
}

// Close ends the read in progress.
func (o *Reader) Close() error {
	if o.r == nil {
		return nil
	}
	err := o.r.Close()
	o.r = nil
	return err
}
