package daemon_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
)

// pngBytes is a PNG of n bytes: its signature, then filler.
func pngBytes(n int) []byte {
	b := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{7}, n)...)
	return b[:n]
}

// multipartBody is a POST /files body: conversationId, then file.
func multipartBody(conv, name, ctype string, data []byte) (string, []byte) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.WriteField("conversationId", conv)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+name+`"`)
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	fw, _ := mw.CreatePart(h)
	_, _ = fw.Write(data)
	_ = mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

func postFile(t *testing.T, c *daemontest.Chat, token, contentType string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", "http://"+c.HTTPAddr()+"/api/chat/files", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /files: %v", err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func upload(t *testing.T, c *daemontest.Chat, token, conv, name, ctype string, data []byte) (int, []byte) {
	t.Helper()
	ct, body := multipartBody(conv, name, ctype, data)
	return postFile(t, c, token, ct, bytes.NewReader(body))
}

type uploaded struct {
	ID, Name, ContentType, SHA256 string
	Size                          int64
}

func getFile(t *testing.T, c *daemontest.Chat, token, id, rangeHeader string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+c.HTTPAddr()+"/api/chat/files/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if rangeHeader != "" {
		req.Header.Set("Range", rangeHeader)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func sendAttachment(cl *testkit.Client, conv, clientMsgID, file string) {
	cl.Publish("chat/cmd/"+cl.User+"/send", map[string]string{
		"clientMsgId": clientMsgID, "conversationId": conv, "content": "", "contentType": "image", "attachmentId": file})
}

func storedFiles(t *testing.T, c *daemontest.Chat) int {
	t.Helper()
	obs, err := c.JetStream().ObjectStore(context.Background(), jet.FilesBucket)
	if err != nil {
		t.Fatal(err)
	}
	infos, err := obs.List(context.Background())
	if err != nil && err != jetstream.ErrNoObjectsFound {
		t.Fatal(err)
	}
	return len(infos)
}

func TestAttachmentsReachOnlyTheMembersOfTheConversationTheyWerePostedIn(t *testing.T) {
	c := daemontest.Chatd(t)
	conv := group(t, c, "alice", "bob")
	elsewhere := group(t, c, "alice", "dave")
	carolsOwn := group(t, c, "carol", "erin")
	alice, carol := connect(t, c, "alice"), connect(t, c, "carol")
	bob := connect(t, c, "bob")
	data := pngBytes(3000)
	status, body := upload(t, c, c.Token("geosector", "alice", "member"), conv, "plan été.png", "image/png", data)
	if status != http.StatusCreated {
		t.Fatalf("upload: %d %s", status, body)
	}
	f := testkit.JSON[uploaded](t, body)
	sum := sha256.Sum256(data)
	if f.ContentType != "image/png" || f.Size != 3000 || f.SHA256 != hex.EncodeToString(sum[:]) || f.Name != "plan été.png" {
		t.Fatalf("upload answered %+v", f)
	}
	// The same upload again (a retry) is the same file: nothing new stored or appended.
	last, stored := c.LastSeq(), storedFiles(t, c)
	status, body = upload(t, c, c.Token("geosector", "alice", "member"), conv, "plan été.png", "image/png", data)
	if again := testkit.JSON[uploaded](t, body); status != http.StatusOK || again.ID != f.ID {
		t.Fatalf("the same upload again: %d %s, want 200 with %s", status, body, f.ID)
	}
	if c.LastSeq() != last || storedFiles(t, c) != stored {
		t.Fatal("a repeated upload appended or stored something")
	}
	want := map[string]int{"alice": 200, "bob": 404, "carol": 403}
	check := func(when string) {
		t.Helper()
		for user, status := range want {
			if resp, _ := getFile(t, c, c.Token("geosector", user, "member"), f.ID, ""); resp.StatusCode != status {
				t.Errorf("%s: %s downloads: %d, want %d", when, user, resp.StatusCode, status)
			}
		}
	}
	check("before it is posted")

	sendAttachment(alice, conv, "att-1", f.ID)
	got := bob.WaitType("message.new", f.ID)
	if !contains(got.Data, `"attachment":"`+f.ID+`"`) {
		t.Fatalf("bob got %s", got.Data)
	}
	want["bob"] = 200
	check("once posted")
	resp, b := getFile(t, c, c.Token("geosector", "bob", "member"), f.ID, "")
	if !bytes.Equal(b, data) || resp.Header.Get("Content-Type") != "image/png" || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") || !strings.Contains(resp.Header.Get("Content-Disposition"), "plan") {
		t.Fatalf("download: %d bytes, headers %v", len(b), resp.Header)
	}
	resp, b = getFile(t, c, c.Token("geosector", "bob", "member"), f.ID, "bytes=1000-1009")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(b, data[1000:1010]) || resp.Header.Get("Content-Range") != "bytes 1000-1009/3000" {
		t.Fatalf("range: %d %q %v", resp.StatusCode, b, resp.Header)
	}
	if resp, _ := getFile(t, c, c.Token("geosector", "bob", "member"), f.ID, "bytes=5000-"); resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("a range past the end: %d, want 416", resp.StatusCode)
	}
	if resp, _ := getFile(t, c, c.Token("resalice", "bob", "member"), f.ID, ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the same user id in another application: %d, want 404", resp.StatusCode)
	}

	// The file goes with nobody's message but its uploader's, in its conversation.
	sendAttachment(carol, carolsOwn, "steal-1", f.ID)
	carol.WaitType("moderation.result", `"reason":"not_found"`)
	sendAttachment(alice, elsewhere, "att-2", f.ID)
	alice.WaitFor("the attachment in another conversation refused", func(r testkit.Received) bool {
		return r.Type == "moderation.result" && contains(r.Data, `"conversationId":"`+elsewhere+`"`) && contains(r.Data, `"reason":"not_found"`)
	})
	check("after refused attachments")
}

func TestBadUploadsAreRefusedAndStoreNothing(t *testing.T) {
	c := daemontest.Chatd(t, func(cfg *config.Config) { cfg.Apps["geosector"].Limits.MaxFileBytes = 4096 })
	conv := group(t, c, "alice", "bob")
	alice := c.Token("geosector", "alice", "member")
	last, files := c.LastSeq(), storedFiles(t, c)
	truncatedType, truncated := multipartBody(conv, "a.png", "image/png", pngBytes(1000))
	noConvType, noConv := func() (string, []byte) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		fw, _ := mw.CreateFormFile("file", "a.png")
		_, _ = fw.Write(pngBytes(100))
		_ = mw.Close()
		return mw.FormDataContentType(), b.Bytes()
	}()
	extraType, extra := func() (string, []byte) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		_ = mw.WriteField("conversationId", conv)
		fw, _ := mw.CreateFormFile("file", "a.png")
		_, _ = fw.Write(pngBytes(100))
		_ = mw.WriteField("attachTo", "elsewhere")
		_ = mw.Close()
		return mw.FormDataContentType(), b.Bytes()
	}()
	for _, tc := range []struct {
		name, token, ctype string
		body               []byte
		status             int
		code               string
	}{
		{"not multipart", alice, "application/json", []byte(`{"conversationId":"x"}`), 415, "unsupported"},
		{"no token", "", "multipart/form-data; boundary=x", nil, 401, "unauthenticated"},
		{"a PNG named .pdf", alice, "", nil, 415, "unsupported"},
		{"a PNG declared as a PDF", alice, "", nil, 415, "unsupported"},
		{"HTML", alice, "", nil, 415, "unsupported"},
		{"too large", alice, "", nil, 413, "too_large"},
		{"cut short", alice, truncatedType, truncated[:len(truncated)-200], 400, "invalid_payload"},
		{"cut before the closing boundary", alice, truncatedType, truncated[:len(truncated)-8], 400, "invalid_payload"},
		{"file before conversationId", alice, noConvType, noConv, 400, "invalid_payload"},
		{"a part after the file", alice, extraType, extra, 400, "invalid_payload"},
		{"empty file", alice, "", nil, 400, "invalid_payload"},
		{"by a non-member", c.Token("geosector", "mallory", "member"), "", nil, 403, "not_member"},
		{"to no conversation", alice, "", nil, 404, "not_found"},
		{"to an invalid conversation id", alice, "", nil, 400, "invalid_payload"},
		{"file name with a control character", alice, "", nil, 400, "invalid_payload"},
	} {
		ctype, body := tc.ctype, tc.body
		if body == nil && tc.ctype == "" {
			switch tc.name {
			case "a PNG named .pdf":
				ctype, body = multipartBody(conv, "invoice.pdf", "", pngBytes(100))
			case "a PNG declared as a PDF":
				ctype, body = multipartBody(conv, "invoice", "application/pdf", pngBytes(100))
			case "HTML":
				ctype, body = multipartBody(conv, "page", "", []byte("<html><script>alert(1)</script></html>"))
			case "too large":
				ctype, body = multipartBody(conv, "big.png", "image/png", pngBytes(5000))
			case "empty file":
				ctype, body = multipartBody(conv, "empty.png", "image/png", nil)
			case "to no conversation":
				ctype, body = multipartBody("nosuch", "a.png", "image/png", pngBytes(100))
			case "to an invalid conversation id":
				ctype, body = multipartBody("no such/conv", "a.png", "image/png", pngBytes(100))
			case "file name with a control character":
				ctype, body = multipartBody(conv, "a\x01.png", "image/png", pngBytes(100))
			default:
				ctype, body = multipartBody(conv, "a.png", "image/png", pngBytes(100))
			}
		}
		status, got := postFile(t, c, tc.token, ctype, bytes.NewReader(body))
		if status != tc.status || !contains(got, `"code":"`+tc.code+`"`) {
			t.Errorf("%s: %d %s, want %d %s", tc.name, status, got, tc.status, tc.code)
		}
	}
	if n := storedFiles(t, c); n != files {
		t.Errorf("bad uploads left %d files in the store", n-files)
	}
	if c.LastSeq() != last {
		t.Errorf("bad uploads appended %d events", c.LastSeq()-last)
	}
	if resp, _ := getFile(t, c, alice, "fnosuchfile", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown file: %d", resp.StatusCode)
	}
	if resp, _ := getFile(t, c, alice, "f..%2Fx", ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("an invalid file id: %d", resp.StatusCode)
	}
}

// A 50 MiB upload goes through in chunks: chatd's heap (this process's)
// stays far below the file's size, and the file comes back whole.
func TestLargeUploadStreamsWithFlatMemory(t *testing.T) {
	const size = 50 << 20
	c := daemontest.Chatd(t, func(cfg *config.Config) { cfg.Apps["geosector"].Limits.MaxFileBytes = size })
	conv := group(t, c, "alice", "bob")
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	sum := sha256.New()
	go func() {
		_ = mw.WriteField("conversationId", conv)
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="scan.pdf"`)
		fw, _ := mw.CreatePart(h)
		w := io.MultiWriter(fw, sum)
		_, _ = w.Write([]byte("%PDF-1.7\n"))
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
		for n := 9; n < size; n += len(chunk) {
			_, _ = w.Write(chunk[:min(len(chunk), size-n)])
		}
		_ = mw.Close()
		_ = pw.Close()
	}()
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			// What stays live, not what awaits collection.
			runtime.GC()
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	status, body := postFile(t, c, c.Token("geosector", "alice", "member"), mw.FormDataContentType(), pr)
	close(stop)
	<-sampled
	if status != http.StatusCreated {
		t.Fatalf("upload: %d %s", status, body)
	}
	f := testkit.JSON[uploaded](t, body)
	if f.Size != size || f.SHA256 != hex.EncodeToString(sum.Sum(nil)) || f.ContentType != "application/pdf" {
		t.Fatalf("upload answered %+v", f)
	}
	grew := int64(peak.Load()) - int64(base.HeapAlloc)
	t.Logf("live heap grew by at most %d KiB during a 50 MiB upload", grew>>10)
	if grew > 24<<20 {
		t.Fatalf("the live heap grew by %d MiB during a 50 MiB upload: it is not streamed", grew>>20)
	}
	resp, _ := getFile(t, c, c.Token("geosector", "alice", "member"), f.ID, "bytes=52428790-")
	if resp.StatusCode != http.StatusPartialContent || resp.ContentLength != 10 {
		t.Fatalf("range at the end of the large file: %d, %d bytes", resp.StatusCode, resp.ContentLength)
	}
}

func TestOrphanUploadsAreRemovedAndAttachedOnesKept(t *testing.T) {
	c := daemontest.Chatd(t, func(cfg *config.Config) { cfg.FileOrphanAfter = time.Second })
	conv := group(t, c, "alice", "bob")
	alice := connect(t, c, "alice")
	bob := connect(t, c, "bob")
	tok := c.Token("geosector", "alice", "member")
	_, body := upload(t, c, tok, conv, "kept.png", "", pngBytes(200))
	kept := testkit.JSON[uploaded](t, body)
	_, body = upload(t, c, tok, conv, "orphan.png", "", pngBytes(300))
	orphan := testkit.JSON[uploaded](t, body)
	if kept.ID == "" || orphan.ID == "" {
		t.Fatalf("uploads: %+v %+v", kept, orphan)
	}
	sendAttachment(alice, conv, "keep-1", kept.ID)
	bob.WaitType("message.new", kept.ID)
	testkit.Eventually(t, 20*time.Second, "the orphan upload removed", func() bool {
		resp, _ := getFile(t, c, tok, orphan.ID, "")
		return resp.StatusCode == http.StatusNotFound
	})
	if n := storedFiles(t, c); n != 1 {
		t.Fatalf("%d files stored, want the attached one only", n)
	}
	if resp, _ := getFile(t, c, c.Token("geosector", "bob", "member"), kept.ID, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("the attached file after the sweep: %d", resp.StatusCode)
	}
	// Attaching the removed file now is refused.
	sendAttachment(alice, conv, "late-1", orphan.ID)
	alice.WaitFor("the expired attachment refused", func(r testkit.Received) bool {
		return r.Type == "moderation.result" && contains(r.Data, `"clientMsgId":"late-1"`) && contains(r.Data, `"reason":"not_found"`)
	})
}
