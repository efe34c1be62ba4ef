package decide

import (
	"time"

	"github.com/chatbackend/chat/events"
)

// File is what decisions need about an upload.
type File struct {
	ID, Uploader, Name, ContentType, SHA256 string
	Size                                    int64
	UploadedAt                              time.Time
	Expired                                 bool
}

func (s *State) fileUploaded(e *events.Envelope, p *events.FileUploaded) error {
	if p.ConversationID == s.ID && s.files[p.FileID] == nil {
		s.files[p.FileID] = &File{ID: p.FileID, Uploader: p.UploaderID, Name: p.Name, ContentType: p.ContentType,
			SHA256: p.SHA256, Size: p.Size, UploadedAt: e.At}
	}
	return nil
}

func (s *State) fileExpired(_ *events.Envelope, p *events.FileExpired) error {
	if f := s.files[p.FileID]; f != nil && p.ConversationID == s.ID {
		f.Expired = true
	}
	return nil
}

// UploadFile decides the actor's storing a file for the conversation: only
// a member who may post there.
func UploadFile(s *State, actor string) error {
	c := s.Conversation()
	if c == nil {
		return refuse(CodeNotFound, "no such conversation")
	}
	if ok, reason := c.CanPost(actor); !ok {
		return refuse(reason, "you may not post in this conversation")
	}
	return nil
}

// ReadFile decides the actor's downloading file id: its uploader may, and
// so may the members of the conversation once a message carrying it is
// approved there and not deleted.
func ReadFile(s *State, actor, id string) (*File, error) {
	f := s.files[id]
	c := s.Conversation()
	if f == nil || f.Expired || c == nil {
		return nil, refuse(CodeNotFound, "no such file")
	}
	if actor == f.Uploader {
		return f, nil
	}
	if !c.IsMember(actor) {
		return nil, refuse(CodeNotMember, "you are not a member of the conversation this file was posted in")
	}
	ps := &s.msgs
	for i := range ps.recs {
		if m := &ps.recs[i]; ps.attaches(m, id) && ps.status(m) == events.StatusApproved && m.deletedAt == 0 {
			return f, nil
		}
	}
	return nil, refuse(CodeNotFound, "no such file")
}

// SameUpload is the uploader's earlier upload of the same bytes under the
// same name to the conversation, still kept, if any: uploading it again (a
// retry) is that upload, not a new file.
func SameUpload(s *State, uploader, name, sha256 string) *File {
	var found *File
	for _, f := range s.files {
		if !f.Expired && f.Uploader == uploader && f.Name == name && f.SHA256 == sha256 && (found == nil || f.ID < found.ID) {
			found = f
		}
	}
	return found
}

// ExpireFile decides removing an upload made before cutoff that no
// message of the log carries (whatever its decision: the log references
// it): nil when it is to be kept, or is gone already.
func ExpireFile(s *State, id string, cutoff time.Time) *events.FileExpired {
	f := s.files[id]
	if f == nil || f.Expired || !f.UploadedAt.Before(cutoff) {
		return nil
	}
	ps := &s.msgs
	for i := range ps.recs {
		if ps.attaches(&ps.recs[i], id) {
			return nil
		}
	}
	return &events.FileExpired{FileID: id, ConversationID: s.ID}
}

// File is the upload id of the conversation, nil when the log has none.
// The caller must not modify it.
func (s *State) File(id string) *File { return s.files[id] }
