package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/queries"
	"github.com/chatbackend/chat/services/decide"
	"github.com/chatbackend/chat/services/httpx"
	"github.com/chatbackend/chat/services/wire"
)

// Bounds of an announcement request.
const (
	maxTitleBytes = 200
	maxTargets    = 100
)

type announceRequest struct {
	// ClientMsgID, when given, makes the request idempotent: the same id
	// again is the same announcement, appended once.
	ClientMsgID     string          `json:"clientMsgId"`
	Title           string          `json:"title"`
	Content         string          `json:"content"`
	AttachmentID    string          `json:"attachmentId"`
	Targets         []events.Target `json:"targets"`
	ReplyPermission string          `json:"replyPermission"`
	Pinned          bool            `json:"pinned"`
	ExpiresAt       *time.Time      `json:"expiresAt"`
}

// announcementsOn refuses every announcement and directory endpoint of an
// application that has announcements off (resalice).
func announcementsOn(caller *httpx.Caller) error {
	if !caller.App.Announcements {
		return httpx.Errorf(http.StatusForbidden, "forbidden", "announcements are off for application %s", caller.App.Name)
	}
	return nil
}

// announce answers POST /announcements: a super or entity admin informs
// the directory's users the targets select. The audience is decided on the
// directory at its position in the log, and the announcement's first event
// appended on the condition that the directory has not moved since.
func (a *API) announce(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	if err := announcementsOn(caller); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	who := decide.AnnouncerOf(caller.App, caller.User(), caller.Role, caller.Entity)
	if !who.Super && !who.EntityAdmin {
		httpx.WriteError(w, r, httpx.Errorf(http.StatusForbidden, "forbidden", "only super admins and entity admins announce"))
		return
	}
	var req announceRequest
	if err := httpx.ReadJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if err := a.checkAnnouncement(caller, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	ctx := r.Context()
	perm := events.ReplyPermission(req.ReplyPermission)
	if perm == "" {
		perm = events.ReplyNone
	}
	an := announcement{caller: caller, id: events.NewConversationID(), req: &req, perm: perm}
	if req.ClientMsgID != "" {
		an.id = events.AnnouncementID(caller.App.Name, caller.User(), req.ClientMsgID)
		// The log, not the read model, says whether a retried request was
		// carried out.
		first, err := a.Decide.FirstOf(ctx, caller.App.Name, an.id)
		if err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		if first > 0 {
			a.completeAnnouncement(w, r, who, &an, first)
			return
		}
	}
	id := an.id
	var parts []*events.Envelope
	out, err := a.Directories.Decide(ctx, caller.App.Name, func(dir *decide.Directory, pos uint64) ([]*events.Envelope, error) {
		audience, err := decide.Audience(who, req.Targets, dir)
		if err != nil {
			return nil, err
		}
		if parts, err = an.parts(a, audience, pos); err != nil {
			return nil, err
		}
		return an.opening(a)
	})
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	// The decision, then the audience: after the posting (out's second
	// event), whose position the decision names.
	decision, err := an.decision(a, out.Appended[1].Seq)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	res, err := a.Append.AppendAll(ctx, append([]*events.Envelope{decision}, parts...))
	if err != nil {
		httpx.WriteError(w, r, fmt.Errorf("append: %w", err))
		return
	}
	wctx, cancel := context.WithTimeout(ctx, a.WriteWait)
	defer cancel()
	if last := res[len(res)-1].Seq; !a.Projected(wctx, last) {
		accepted(w, last, id)
		return
	}
	first, _ := parts[0].Payload()
	httpx.WriteJSON(w, http.StatusCreated, queries.AnnouncementItem{
		Announcement: wire.AnnouncementFromEvent(first.(*events.AnnouncementTargeted)),
		CreatedAt:    parts[0].At.UTC(), Targets: req.Targets, Recipients: first.(*events.AnnouncementTargeted).Total,
		Seq: res[1].Seq, // the first part's, as GET /announcements gives it
	})
}

// checkAnnouncement refuses a malformed request before anything is decided.
func (a *API) checkAnnouncement(caller *httpx.Caller, req *announceRequest) error {
	switch {
	case req.ClientMsgID != "" && !events.ValidID(req.ClientMsgID):
		return badRequest("clientMsgId: must match ^[A-Za-z0-9_-]{1,64}$")
	case strings.TrimSpace(req.Title) == "":
		return badRequest("title: required")
	case len(req.Title) > maxTitleBytes:
		return badRequest("title: at most %d bytes", maxTitleBytes)
	case len(req.Content) > caller.App.Limits.MaxContentBytes:
		return httpx.Errorf(http.StatusRequestEntityTooLarge, "too_large", "content of %d bytes exceeds %d", len(req.Content), caller.App.Limits.MaxContentBytes)
	case req.AttachmentID != "":
		return httpx.Errorf(http.StatusBadRequest, "unsupported", "attachmentId: files are not available yet")
	case len(req.Targets) == 0:
		return badRequest("targets: at least one {\"entity\",\"role\"}")
	case len(req.Targets) > maxTargets:
		return badRequest("targets: at most %d", maxTargets)
	case req.ReplyPermission != "" && !events.ReplyPermission(req.ReplyPermission).Valid():
		return badRequest("replyPermission: one of all, admins_only, sender_only, none")
	case req.ExpiresAt != nil && !req.ExpiresAt.After(a.Now()):
		return badRequest("expiresAt: %s is not in the future", req.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if req.ExpiresAt != nil {
		t := req.ExpiresAt.UTC().Truncate(time.Microsecond) // as PostgreSQL keeps it
		req.ExpiresAt = &t
	}
	for i, t := range req.Targets {
		if err := t.Validate(); err != nil {
			return badRequest("targets[%d].%v", i, err)
		}
	}
	return nil
}

// completeAnnouncement answers a repeated request (its clientMsgId) for an
// announcement whose conversation the log created at position first:
// whatever of it the log lacks (a chatd that stopped half-way) is appended,
// decided on the conversation's state with the audience resolved again on
// the directory as it stood at its creation, so nothing is appended twice
// and the audience is the first attempt's. The answer is the announcement.
func (a *API) completeAnnouncement(w http.ResponseWriter, r *http.Request, who decide.Announcer, an *announcement, first uint64) {
	ctx, app := r.Context(), an.caller.App.Name
	dir, dirPos, err := a.Directories.Before(ctx, app, first)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	audience, err := decide.Audience(who, an.req.Targets, dir)
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	parts, err := an.parts(a, audience, dirPos)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	// The message first, if missing: its decision names its position.
	if _, err := a.Decide.Decide(ctx, app, an.id, func(s *decide.State) ([]*events.Envelope, error) {
		if err := an.owns(s); err != nil {
			return nil, err
		}
		if _, ok := s.Message(an.messageID()); ok {
			return nil, nil
		}
		posted, err := an.posted(a)
		return []*events.Envelope{posted}, err
	}); err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	out, err := a.Decide.Decide(ctx, app, an.id, func(s *decide.State) ([]*events.Envelope, error) {
		var evs []*events.Envelope
		if m, ok := s.Message(an.messageID()); ok && m.Status == "" {
			d, err := an.decision(a, m.PostedSeq)
			if err != nil {
				return nil, err
			}
			evs = append(evs, d)
		}
		for _, p := range parts {
			if !s.Done(p.ID) {
				evs = append(evs, p)
			}
		}
		return evs, nil
	})
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	seq := out.Pos
	if n := len(out.Appended); n > 0 {
		seq = out.Appended[n-1].Seq
	}
	wctx, cancel := context.WithTimeout(ctx, a.WriteWait)
	defer cancel()
	if !a.Projected(wctx, seq) {
		accepted(w, seq, an.id)
		return
	}
	item, err := a.Store.Announcement(ctx, app, an.id)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, item)
}

// owns refuses a clientMsgId whose conversation is not the author's
// announcement.
func (an *announcement) owns(s *decide.State) error {
	if c := s.Conversation(); c == nil || c.Kind != events.KindBroadcast || c.CreatedBy != an.caller.User() {
		return httpx.Errorf(http.StatusConflict, "conflict", "clientMsgId %s names another conversation", an.req.ClientMsgID)
	}
	return nil
}

// announcement builds the events of one announcement.
type announcement struct {
	caller *httpx.Caller
	id     string
	req    *announceRequest
	perm   events.ReplyPermission
}

func (an *announcement) messageID() string {
	return events.MessageID(an.caller.App.Name, an.caller.User(), an.id)
}

// opening is the broadcast conversation, its author alone, and its message.
func (an *announcement) opening(a *API) ([]*events.Envelope, error) {
	created, err := a.event(an.caller, "conv-"+an.id, &events.ConversationCreated{ConversationID: an.id,
		Kind: events.KindBroadcast, Title: an.req.Title, ReplyPermission: an.perm, CreatedBy: an.caller.User(),
		Members: []events.Member{{UserID: an.caller.User(), Role: events.RoleAdmin}}})
	if err != nil {
		return nil, err
	}
	posted, err := an.posted(a)
	if err != nil {
		return nil, err
	}
	return []*events.Envelope{created, posted}, nil
}

func (an *announcement) posted(a *API) (*events.Envelope, error) {
	return a.event(an.caller, "ann-post-"+an.id, &events.MessagePosted{MessageID: an.messageID(), ClientMsgID: an.id,
		ConversationID: an.id, SenderID: an.caller.User(), SenderType: actorOf(an.caller).Type, Content: an.req.Content,
		ContentType: events.ContentText, Announcement: true})
}

// decision approves the announcement's message: its author may post there
// (the conversation's admin), and an announcement is not moderated.
func (an *announcement) decision(a *API, postedSeq uint64) (*events.Envelope, error) {
	return a.event(an.caller, "mod-"+an.messageID(), &events.MessageModerated{MessageID: an.messageID(), ConversationID: an.id,
		SenderID: an.caller.User(), ClientMsgID: an.id, Status: events.StatusApproved, PostedSeq: postedSeq})
}

// parts splits the audience into AnnouncementTargeted events of at most
// events.MaxRecipientsPerEvent recipients each.
func (an *announcement) parts(a *API, audience []string, dirPos uint64) ([]*events.Envelope, error) {
	n := (len(audience) + events.MaxRecipientsPerEvent - 1) / events.MaxRecipientsPerEvent
	out := make([]*events.Envelope, 0, n)
	for i := 0; i < n; i++ {
		chunk := audience[i*events.MaxRecipientsPerEvent : min((i+1)*events.MaxRecipientsPerEvent, len(audience))]
		e, err := a.event(an.caller, fmt.Sprintf("ann-%s-%d", an.id, i+1), &events.AnnouncementTargeted{
			AnnouncementID: an.id, ConversationID: an.id, MessageID: an.messageID(), From: an.caller.User(),
			Title: an.req.Title, Content: an.req.Content, ReplyPermission: an.perm, Pinned: an.req.Pinned,
			ExpiresAt: an.req.ExpiresAt, Targets: an.req.Targets, DirectorySeq: dirPos,
			Part: i + 1, Parts: n, Total: len(audience), Recipients: chunk})
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}
