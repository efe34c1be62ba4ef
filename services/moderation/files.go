package moderation

import "github.com/chatbackend/chat/events"

// Upload is what deciding an attachment needs about a file.
type Upload struct {
	ConversationID, UploaderID string
	Expired                    bool
}

func (s *Service) fileUploaded(e *events.Envelope, p *events.FileUploaded) error {
	if k := e.App + "/" + p.FileID; s.files[k] == nil {
		s.files[k] = &Upload{ConversationID: p.ConversationID, UploaderID: p.UploaderID}
	}
	return nil
}

func (s *Service) fileExpired(e *events.Envelope, p *events.FileExpired) error {
	if u := s.files[e.App+"/"+p.FileID]; u != nil {
		u.Expired = true
	}
	return nil
}

// DecideAttachment refines a decision on a message carrying a file that
// did not refuse it already (an approval, or a hold for review that a
// moderator could approve): the sender must have uploaded the file for this
// very conversation, and it must not have expired. Anything else is refused
// as not_found, which tells nothing about files of others.
func DecideAttachment(d Decision, u *Upload, m *events.MessagePosted) Decision {
	if d.Status == events.StatusRejected {
		return d
	}
	if u == nil || u.Expired || u.ConversationID != m.ConversationID || u.UploaderID != m.SenderID {
		return Decision{events.StatusRejected, events.ReasonAttachmentNotFound}
	}
	return d
}
