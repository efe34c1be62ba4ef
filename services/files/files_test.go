package files_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/chatbackend/chat/services/files"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
)

func TestStoredFilesReadBackFromAnyOffset(t *testing.T) {
	ctx := context.Background()
	s, err := files.Open(ctx, testkit.NATS(t, jet.StreamOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789"), 50_000) // several chunks
	obj, err := s.Put(ctx, "resalice", "f1", "c1", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if obj.App != "resalice" || obj.ID != "f1" || obj.ConversationID != "c1" || obj.Size != int64(len(data)) {
		t.Fatalf("stored %+v", obj)
	}
	if _, err := s.Info(ctx, "geosector", "f1"); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("another application's file of the same id: %v, want ErrNotFound", err)
	}
	r := s.Reader(ctx, "resalice", "f1", obj.Size)
	defer r.Close()
	for _, off := range []int64{0, 131072, 499_990, 7} {
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 10)
		if _, err := io.ReadFull(r, got); err != nil && !(off+10 > obj.Size && err == io.ErrUnexpectedEOF) {
			t.Fatalf("read at %d: %v", off, err)
		}
		if !bytes.Equal(got, data[off:off+10]) {
			t.Fatalf("at %d read %q, want %q", off, got, data[off:off+10])
		}
	}
	if end, err := r.Seek(0, io.SeekEnd); err != nil || end != obj.Size {
		t.Fatalf("seek to the end: %d %v", end, err)
	}
	if _, err := r.Seek(-1, io.SeekStart); err == nil {
		t.Fatal("a seek before the start was accepted")
	}
	if all, err := io.ReadAll(io.NewSectionReader(readerAt{r}, 0, obj.Size)); err != nil || !bytes.Equal(all, data) {
		t.Fatalf("whole file: %d bytes, %v", len(all), err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != "f1" {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := s.Delete(ctx, "resalice", "f1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "resalice", "f1"); err != nil {
		t.Fatalf("deleting a file already gone: %v", err)
	}
	if list, err := s.List(ctx); err != nil || len(list) != 0 {
		t.Fatalf("list after delete: %+v %v", list, err)
	}
}

// readerAt reads through Seek and Read, as http.ServeContent does.
type readerAt struct{ r *files.Reader }

func (a readerAt) ReadAt(p []byte, off int64) (int, error) {
	if _, err := a.r.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	return io.ReadFull(a.r, p)
}

func TestAFailedPutKeepsNothing(t *testing.T) {
	ctx := context.Background()
	s, err := files.Open(ctx, testkit.NATS(t, jet.StreamOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("client went away")
	if _, err := s.Put(ctx, "resalice", "f2", "c1", io.MultiReader(bytes.NewReader(make([]byte, 300_000)), failing{boom})); !errors.Is(err, boom) {
		t.Fatalf("Put = %v, want the reader's error", err)
	}
	if _, err := s.Info(ctx, "resalice", "f2"); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("a failed upload left %v", err)
	}
}

type failing struct{ err error }

func (f failing) Read([]byte) (int, error) { return 0, f.err }
