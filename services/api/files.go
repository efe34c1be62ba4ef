package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/decide"
	"github.com/chatbackend/chat/services/files"
	"github.com/chatbackend/chat/services/httpx"
)

// multipartOverhead is what a multipart body may hold besides the file:
// boundaries, part headers and the conversationId field.
const multipartOverhead = 64 << 10

// maxFileName bounds a file's name, in bytes.
const maxFileName = 255

// extensionTypes are the content types file name extensions promise: an
// upload whose bytes are of another type lies about itself (415).
var extensionTypes = map[string]string{
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
	".pdf": "application/pdf", ".txt": "text/plain", ".html": "text/html", ".htm": "text/html", ".svg": "image/svg+xml",
	".js": "text/javascript", ".zip": "application/zip", ".exe": "application/octet-stream",
}

type fileJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

// uploadFile answers POST /files: multipart fields conversationId, then
// file, streamed into the object store. The type is sniffed from the bytes
// and must be one the application allows, and agree with what the client
// declared (part type, name extension); the size is bounded while reading.
// Only a member who may post in the conversation uploads, decided at its
// position before any byte is stored and again when the upload is recorded.
func (a *API) uploadFile(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	app := caller.App
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "multipart/form-data" {
		httpx.WriteError(w, r, httpx.Errorf(http.StatusUnsupportedMediaType, "unsupported", "Content-Type must be multipart/form-data"))
		return
	}
	limit := app.Limits.MaxFileBytes + multipartOverhead
	if r.ContentLength > limit {
		httpx.WriteError(w, r, tooLarge("a file has at most %d bytes", app.Limits.MaxFileBytes))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	mr, err := r.MultipartReader()
	if err != nil {
		httpx.WriteError(w, r, badRequest("body: %v", err))
		return
	}
	conv, err := formField(mr, "conversationId")
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if err := a.Decide.State(r.Context(), app.Name, conv, func(s *decide.State) error {
		return decide.UploadFile(s, caller.User())
	}); err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	part, err := mr.NextPart()
	if err != nil || part.FormName() != "file" {
		httpx.WriteError(w, r, readError(err, "the part after conversationId must be file"))
		return
	}
	name, err := fileName(part.FileName())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(part, head)
	if n == 0 {
		httpx.WriteError(w, r, readError(err, "file: empty"))
		return
	}
	sniffed, err := checkType(app.AllowsFileType, head[:n], part.Header.Get("Content-Type"), name)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	id := events.NewFileID()
	sum := sha256.New()
	body := &boundedReader{r: io.TeeReader(io.MultiReader(bytes.NewReader(head[:n]), part), sum), left: app.Limits.MaxFileBytes}
	obj, err := a.Files.Put(r.Context(), app.Name, id, conv, body)
	if err == nil {
		// The body must end with the file: anything else, or a body cut
		// short before its closing boundary, is not a complete upload.
		if _, next := mr.NextPart(); next != io.EOF {
			err = &readFailure{err: next}
		}
	}
	if err != nil {
		_ = a.Files.Delete(r.Context(), app.Name, id)
		httpx.WriteError(w, r, uploadError(err, body, app.Limits.MaxFileBytes))
		return
	}
	up := &events.FileUploaded{FileID: id, ConversationID: conv, UploaderID: caller.User(), Name: name,
		ContentType: sniffed, Size: obj.Size, SHA256: hex.EncodeToString(sum.Sum(nil))}
	var same decide.File
	if _, err := a.Decide.Decide(r.Context(), app.Name, conv, func(s *decide.State) ([]*events.Envelope, error) {
		same = decide.File{}
		if err := decide.UploadFile(s, caller.User()); err != nil {
			return nil, err
		}
		if f := decide.SameUpload(s, caller.User(), name, up.SHA256); f != nil {
			same = *f
			return nil, nil
		}
		e, err := a.event(caller, events.FileEventID(app.Name, id), up)
		if err != nil {
			return nil, err
		}
		return []*events.Envelope{e}, nil
	}); err != nil {
		_ = a.Files.Delete(r.Context(), app.Name, id)
		httpx.WriteError(w, r, refusal(err))
		return
	}
	if same.ID != "" { // a retry: the earlier upload answers, the copy goes
		_ = a.Files.Delete(r.Context(), app.Name, id)
		httpx.WriteJSON(w, http.StatusOK, fileJSON{ID: same.ID, Name: same.Name, ContentType: same.ContentType, Size: same.Size, SHA256: same.SHA256})
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, fileJSON{ID: id, Name: name, ContentType: sniffed, Size: up.Size, SHA256: up.SHA256})
}

// formField reads the next part, which must be the small field want.
func formField(mr *multipart.Reader, want string) (string, error) {
	part, err := mr.NextPart()
	if err != nil || part.FormName() != want || part.FileName() != "" {
		return "", readError(err, "the first part must be the field "+want)
	}
	b, err := io.ReadAll(io.LimitReader(part, events.MaxIDLen+1))
	if err != nil {
		return "", readError(err, want)
	}
	if !events.ValidID(string(b)) {
		return "", badRequest("%s: must match ^[A-Za-z0-9_-]{1,64}$", want)
	}
	return string(b), nil
}

// fileName is the name a download will carry: its last path element,
// valid UTF-8 without control characters, at most maxFileName bytes.
func fileName(raw string) (string, error) {
	name := path.Base(strings.ReplaceAll(raw, `\`, "/"))
	if raw == "" || name == "." || name == "/" {
		return "", badRequest("file: the part has no file name")
	}
	if len(name) > maxFileName {
		return "", tooLarge("file name: at most %d bytes", maxFileName)
	}
	if !utf8.ValidString(name) || strings.IndexFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
		return "", badRequest("file name: not valid UTF-8 text")
	}
	return name, nil
}

// checkType sniffs the content type of a file from its first bytes: it
// must be allowed, and agree with the part's declared type and the name's
// extension when they say something.
func checkType(allowed func(string) bool, head []byte, declared, name string) (string, error) {
	sniffed := baseType(http.DetectContentType(head))
	if !allowed(sniffed) {
		return "", httpx.Errorf(http.StatusUnsupportedMediaType, "unsupported", "files of type %s are not accepted here", sniffed)
	}
	if d := baseType(declared); d != "" && d != "application/octet-stream" && d != sniffed {
		return "", httpx.Errorf(http.StatusUnsupportedMediaType, "unsupported", "the file says it is %s but its content is %s", cut(d), sniffed)
	}
	if t, ok := extensionTypes[strings.ToLower(path.Ext(name))]; ok && t != sniffed {
		return "", httpx.Errorf(http.StatusUnsupportedMediaType, "unsupported", "the file's name says %s but its content is %s", t, sniffed)
	}
	return sniffed, nil
}

func baseType(t string) string {
	mt, _, err := mime.ParseMediaType(t)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(t))
	}
	return mt
}

var errFileTooLarge = errors.New("file too large")

// boundedReader fails once more than left bytes came through, and keeps
// the first error it read, to tell the client's faults from the store's.
type boundedReader struct {
	r    io.Reader
	left int64
	err  error
}

func (b *boundedReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		err = errFileTooLarge
	}
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// readFailure is the body failing after the file was stored.
type readFailure struct{ err error }

func (e *readFailure) Error() string { return "read body: " + e.err.Error() }

// uploadError says whose fault a failed upload is: too large (413), a body
// cut short or malformed (400), or the store's (500).
func uploadError(err error, body *boundedReader, max int64) error {
	var rf *readFailure
	switch {
	case errors.Is(body.err, errFileTooLarge):
		return tooLarge("a file has at most %d bytes", max)
	case body.err != nil:
		return readError(body.err, "file")
	case errors.As(err, &rf):
		return readError(rf.err, "only conversationId and file may be sent")
	}
	return err
}

// readError answers a body that could not be read: too large (the request
// limit), cut short or malformed.
func readError(err error, what string) error {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return tooLarge("body exceeds %d bytes", tooBig.Limit)
	case err == nil || errors.Is(err, io.EOF):
		return badRequest("%s", what)
	}
	return badRequest("%s: the body is cut short or malformed (%v)", what, err)
}

// downloadFile answers GET /files/{id}: the file's bytes, to its uploader
// and to the members of the conversation it was posted in (decided on the
// log), with range requests.
func (a *API) downloadFile(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	id := r.PathValue("id")
	obj, err := a.Files.Info(r.Context(), caller.App.Name, id)
	if errors.Is(err, files.ErrNotFound) {
		httpx.WriteError(w, r, httpx.Errorf(http.StatusNotFound, "not_found", "no such file"))
		return
	}
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	var f decide.File
	if err := a.Decide.State(r.Context(), caller.App.Name, obj.ConversationID, func(s *decide.State) error {
		got, err := decide.ReadFile(s, caller.User(), id)
		if err == nil {
			f = *got
		}
		return err
	}); err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ContentType)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
	h.Set("ETag", `"`+f.SHA256+`"`)
	// The bytes never change; who may read them can: revalidate each time.
	h.Set("Cache-Control", "private, no-cache")
	rd := a.Files.Reader(r.Context(), caller.App.Name, id, f.Size)
	defer rd.Close()
	http.ServeContent(w, r, "", f.UploadedAt, rd)
}
