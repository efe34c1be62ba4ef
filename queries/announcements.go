package queries

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/decide"
	"github.com/chatbackend/chat/services/httpx"
	"github.com/chatbackend/chat/services/wire"
	"github.com/chatbackend/chat/sql/db"
)

// AnnouncementItem is an announcement as GET /announcements lists it: what
// announcement.new carried, with when, where in the log, whom it targeted
// and how many it reached.
type AnnouncementItem struct {
	wire.Announcement
	CreatedAt  time.Time       `json:"createdAt"`
	Seq        uint64          `json:"seq"`
	Targets    []events.Target `json:"targets"`
	Recipients int             `json:"recipients"`
}

// ErrAnnouncementNotFound answers an id no announcement of the caller's
// application has.
var ErrAnnouncementNotFound = httpx.Errorf(http.StatusNotFound, "not_found", "no such announcement")

// errAnnouncementsOff refuses every announcement endpoint of an application
// with announcements off.
func errAnnouncementsOff(app string) error {
	return httpx.Errorf(http.StatusForbidden, "forbidden", "announcements are off for application %s", app)
}

func announcementItem(id, conv, msg, author, title, content string, attachment *string, perm string, pinned bool,
	expires *time.Time, targets []byte, recipients int32, created time.Time, seq int64) (AnnouncementItem, error) {
	it := AnnouncementItem{Announcement: wire.Announcement{AnnouncementID: id, ConversationID: conv, MessageID: msg,
		Title: title, Content: content, From: author, Pinned: pinned, ExpiresAt: utc(expires), ReplyPermission: perm,
		Attachment: attachment}, CreatedAt: created.UTC(), Seq: uint64(seq), Recipients: int(recipients)}
	if err := json.Unmarshal(targets, &it.Targets); err != nil {
		return it, fmt.Errorf("announcement %s targets: %w", id, err)
	}
	return it, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Announcement reads one announcement of app.
func (s Store) Announcement(ctx context.Context, app, id string) (AnnouncementItem, error) {
	a, err := s.Q.GetAnnouncement(ctx, db.GetAnnouncementParams{App: app, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return AnnouncementItem{}, ErrAnnouncementNotFound
	}
	if err != nil {
		return AnnouncementItem{}, fmt.Errorf("read announcement: %w", err)
	}
	return announcementItem(a.ID, a.ConversationID, a.MessageID, a.AuthorID, a.Title, a.Content, a.AttachmentID,
		a.ReplyPermission, a.Pinned, a.ExpiresAt, a.Targets, a.Recipients, a.CreatedAt, a.Seq)
}

// Announcements answers GET /announcements?limit=&cursor=: the caller's
// announcements (received or written) that have not expired, pinned first,
// then newest first. cursor is the previous page's next.
func (h Handlers) Announcements(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	if !caller.App.Announcements {
		httpx.WriteError(w, r, errAnnouncementsOff(caller.App.Name))
		return
	}
	limit, err := pageLimit(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	pinned, seq, err := listCursor(r.URL.Query().Get("cursor"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	rows, err := h.Store.Q.ListAnnouncementsForUser(r.Context(), db.ListAnnouncementsForUserParams{App: caller.App.Name,
		UserID: caller.User(), Now: time.Now(), BeforePinned: pinned, BeforeSeq: seq, MaxRows: int32(limit + 1)})
	if err != nil {
		httpx.WriteError(w, r, fmt.Errorf("list announcements: %w", err))
		return
	}
	more := int64(len(rows)) > limit
	if more {
		rows = rows[:limit]
	}
	items := make([]AnnouncementItem, len(rows))
	for i, a := range rows {
		if items[i], err = announcementItem(a.ID, a.ConversationID, a.MessageID, a.AuthorID, a.Title, a.Content, a.AttachmentID,
			a.ReplyPermission, a.Pinned, a.ExpiresAt, a.Targets, a.Recipients, a.CreatedAt, a.Seq); err != nil {
			httpx.WriteError(w, r, err)
			return
		}
	}
	body := map[string]any{"announcements": items, "hasMore": more}
	if more {
		last := rows[len(rows)-1]
		p := 0
		if last.Pinned {
			p = 1
		}
		body["next"] = fmt.Sprintf("%d-%d", p, last.Seq)
	}
	httpx.WriteJSON(w, http.StatusOK, body)
}

// listCursor reads GET /announcements' cursor "{pinned 0|1}-{seq}"; none
// starts before everything.
func listCursor(s string) (int32, int64, error) {
	if s == "" {
		return 2, math.MaxInt64, nil
	}
	p, q, ok := strings.Cut(s, "-")
	seq, err := strconv.ParseInt(q, 10, 64)
	if !ok || (p != "0" && p != "1") || err != nil || seq < 1 {
		return 0, 0, httpx.Errorf(http.StatusBadRequest, "invalid_payload", "cursor: pass the next of the previous page")
	}
	return int32(p[0] - '0'), seq, nil
}

// Reader is a recipient who has read an announcement, and when.
type Reader struct {
	UserID string    `json:"userId"`
	ReadAt time.Time `json:"readAt"`
}

// AnnouncementStats is GET /announcements/{id}/stats: the counts over the
// whole audience, and one page of it (recipients by id after the cursor)
// split into readers and those who have not read.
type AnnouncementStats struct {
	AnnouncementID string   `json:"announcementId"`
	Recipients     int64    `json:"recipients"`
	Read           int64    `json:"read"`
	Unread         int64    `json:"unread"`
	Readers        []Reader `json:"readers"`
	UnreadUsers    []string `json:"unreadUsers"`
	HasMore        bool     `json:"hasMore"`
	Next           string   `json:"next,omitempty"`
}

// AnnouncementStats answers GET /announcements/{id}/stats?limit=&cursor=
// for the announcement's author and the application's super admins. A read
// is a read receipt at or past the announcement's message, as
// GET /messages/{id}/receipts counts it; counts and page come from one
// snapshot.
func (h Handlers) AnnouncementStats(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	if !caller.App.Announcements {
		httpx.WriteError(w, r, errAnnouncementsOff(caller.App.Name))
		return
	}
	limit, err := pageLimit(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	after := r.URL.Query().Get("cursor")
	if after != "" && !events.ValidID(after) {
		httpx.WriteError(w, r, httpx.Errorf(http.StatusBadRequest, "invalid_payload", "cursor: pass the next of the previous page"))
		return
	}
	id := r.PathValue("id")
	var st AnnouncementStats
	err = pgx.BeginTxFunc(r.Context(), h.Store.DB, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			q := db.New(tx)
			a, err := q.GetAnnouncement(r.Context(), db.GetAnnouncementParams{App: caller.App.Name, ID: id})
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrAnnouncementNotFound
			}
			if err != nil {
				return fmt.Errorf("read announcement: %w", err)
			}
			if a.AuthorID != caller.User() && !decide.AnnouncerOf(caller.App, caller.User(), caller.Role, caller.Entity).Super {
				return httpx.Errorf(http.StatusForbidden, "forbidden", "only its author and super admins see an announcement's statistics")
			}
			st, err = stats(r.Context(), q, caller.App.Name, id, after, limit)
			return err
		})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, st)
}

func stats(ctx context.Context, q *db.Queries, app, id, after string, limit int64) (AnnouncementStats, error) {
	counts, err := q.AnnouncementReadCounts(ctx, db.AnnouncementReadCountsParams{App: app, ID: id})
	if err != nil {
		return AnnouncementStats{}, fmt.Errorf("announcement counts: %w", err)
	}
	rows, err := q.AnnouncementReadPage(ctx, db.AnnouncementReadPageParams{App: app, ID: id, After: after, MaxRows: int32(limit + 1)})
	if err != nil {
		return AnnouncementStats{}, fmt.Errorf("announcement readers: %w", err)
	}
	st := AnnouncementStats{AnnouncementID: id, Recipients: counts.Recipients, Read: counts.Read,
		Unread: counts.Recipients - counts.Read, Readers: []Reader{}, UnreadUsers: []string{}}
	if st.HasMore = int64(len(rows)) > limit; st.HasMore {
		rows = rows[:limit]
		st.Next = rows[len(rows)-1].UserID
	}
	for _, row := range rows {
		if row.ReadAt != nil {
			st.Readers = append(st.Readers, Reader{UserID: row.UserID, ReadAt: row.ReadAt.UTC()})
		} else {
			st.UnreadUsers = append(st.UnreadUsers, row.UserID)
		}
	}
	return st, nil
}

// AudienceTargets answers GET /audience-targets: the entities and roles the
// caller may put in an announcement's targets, as the directory has them
// ("all" where the caller may target every one).
func (h Handlers) AudienceTargets(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	if !caller.App.Announcements {
		httpx.WriteError(w, r, errAnnouncementsOff(caller.App.Name))
		return
	}
	who := decide.AnnouncerOf(caller.App, caller.User(), caller.Role, caller.Entity)
	out := map[string][]string{"entities": {}, "roles": {}}
	var err error
	switch {
	case who.Super:
		var entities, roles []string
		if entities, err = h.Store.Q.DirectoryEntities(r.Context(), caller.App.Name); err == nil {
			roles, err = h.Store.Q.DirectoryRoles(r.Context(), db.DirectoryRolesParams{App: caller.App.Name})
		}
		out["entities"], out["roles"] = append([]string{events.TargetAll}, entities...), append([]string{events.TargetAll}, roles...)
	case who.EntityAdmin && who.Entity != "":
		var roles []string
		roles, err = h.Store.Q.DirectoryRoles(r.Context(), db.DirectoryRolesParams{App: caller.App.Name, Entity: who.Entity})
		if len(roles) > 0 { // their entity is in the directory
			out["entities"], out["roles"] = []string{who.Entity}, append([]string{events.TargetAll}, roles...)
		}
	}
	if err != nil {
		httpx.WriteError(w, r, fmt.Errorf("read the directory: %w", err))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// markViaTarget sets viaTarget on the participants of an announcement's
// conversation its audience brought in.
func (s Store) markViaTarget(ctx context.Context, c db.Conversation, ps []Participant) error {
	if c.Kind != string(events.KindBroadcast) {
		return nil
	}
	ids, err := s.Q.AnnouncementRecipientIDs(ctx, db.AnnouncementRecipientIDsParams{App: c.App, ID: c.ID})
	if err != nil {
		return fmt.Errorf("announcement recipients: %w", err)
	}
	in := make(map[string]bool, len(ids))
	for _, id := range ids {
		in[id] = true
	}
	for i := range ps {
		ps[i].ViaTarget = in[ps[i].UserID]
	}
	return nil
}
