package events

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
)

// File events (PROTOCOL §3, "Stockage des fichiers"): a member uploads a
// file for a conversation, a message posted there carries it
// (MessagePosted.AttachmentID), and an upload no message took up is
// removed after a while. The bytes live in JetStream's object store; the
// log says which files exist, in which conversation, and who may read them.
const (
	TypeFileUploaded Type = "FileUploaded"
	TypeFileExpired  Type = "FileExpired"
)

// FileUploaded records a file stored for a conversation by its uploader.
// Its time is the envelope's At.
type FileUploaded struct {
	FileID         string `json:"fileId"`
	ConversationID string `json:"conversationId"`
	UploaderID     string `json:"uploaderId"`
	Name           string `json:"name"`
	// ContentType is sniffed from the bytes, never taken from the client.
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"` // hex
}

func (*FileUploaded) EventType() Type   { return TypeFileUploaded }
func (e *FileUploaded) scopeID() string { return e.ConversationID }
func (e *FileUploaded) Validate() error {
	if err := checkIDs("fileId", e.FileID, "conversationId", e.ConversationID, "uploaderId", e.UploaderID); err != nil {
		return err
	}
	if err := checkText("name", e.Name); err != nil {
		return err
	}
	if e.ContentType == "" {
		return errors.New("contentType: missing")
	}
	if e.Size <= 0 {
		return fmt.Errorf("size: %d is not positive", e.Size)
	}
	if len(e.SHA256) != 64 {
		return fmt.Errorf("sha256: %q is not 64 hex digits", e.SHA256)
	}
	if _, err := hex.DecodeString(e.SHA256); err != nil {
		return fmt.Errorf("sha256: %q is not 64 hex digits", e.SHA256)
	}
	return nil
}

// FileExpired removes an upload no message carries, once it is older than
// the configured time: its bytes are deleted after this is in the log, and
// a message naming it later is refused.
type FileExpired struct {
	FileID         string `json:"fileId"`
	ConversationID string `json:"conversationId"`
}

func (*FileExpired) EventType() Type   { return TypeFileExpired }
func (e *FileExpired) scopeID() string { return e.ConversationID }
func (e *FileExpired) Validate() error {
	return checkIDs("fileId", e.FileID, "conversationId", e.ConversationID)
}

// NewFileID returns a fresh random file id: it names the bytes, so it must
// not be guessable.
func NewFileID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "f" + hex.EncodeToString(b[:])
}

// FileEventID and FileExpiredID are the ids of a file's upload and expiry:
// derived, so doing either again is one event.
func FileEventID(app, fileID string) string { return "u" + digest("file", app, fileID) }

// FileExpiredID: see FileEventID.
func FileExpiredID(app, fileID string) string { return "z" + digest("file-expired", app, fileID) }
