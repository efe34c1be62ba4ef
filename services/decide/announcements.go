package decide

import (
	"slices"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
)

// Announcer is who asks to announce, as their token and their application's
// configuration say: a super admin targets any entity and role, an entity
// admin the users of their own entity (any role there), anyone else nothing.
type Announcer struct {
	ID          string
	Super       bool
	EntityAdmin bool
	Entity      string // the token's entity claim
}

// AnnouncerOf is a token's holder as an announcer of app.
func AnnouncerOf(app *config.App, user, role, entity string) Announcer {
	return Announcer{ID: user, Super: slices.Contains(app.SuperAdminRoles, role),
		EntityAdmin: slices.Contains(app.EntityAdminRoles, role), Entity: entity}
}

// MayTarget decides whether the announcer may target t, before the
// directory is consulted.
func MayTarget(a Announcer, t events.Target) error {
	switch {
	case a.Super:
		return nil
	case !a.EntityAdmin:
		return refuse(CodeForbidden, "only super admins and entity admins announce")
	case a.Entity == "":
		return refuse(CodeForbidden, "your token names no entity: an entity admin targets only their own")
	case t.Entity != a.Entity:
		return refuse(CodeForbidden, "entity admins target only their own entity %q, not %q", a.Entity, t.Entity)
	}
	return nil
}

// Audience decides an announcement's recipients on the directory at one
// position: the active users any target matches (a union), the author
// excepted, sorted. Targets the announcer may not use are forbidden;
// entities and roles no user of the directory has are invalid, and so is an
// audience of nobody.
func Audience(a Announcer, targets []events.Target, dir *Directory) ([]string, error) {
	if len(targets) == 0 {
		return nil, refuse(CodeInvalidPayload, "targets: at least one")
	}
	for i, t := range targets {
		if err := t.Validate(); err != nil {
			return nil, refuse(CodeInvalidPayload, "targets[%d].%v", i, err)
		}
		if err := MayTarget(a, t); err != nil {
			return nil, err
		}
		if t.Entity != events.TargetAll && !dir.HasEntity(t.Entity) {
			return nil, refuse(CodeInvalidPayload, "targets[%d].entity: no user of the directory is in entity %q", i, t.Entity)
		}
		if t.Role != events.TargetAll && !dir.HasRole(t.Role) {
			return nil, refuse(CodeInvalidPayload, "targets[%d].role: no user of the directory has role %q", i, t.Role)
		}
	}
	var out []string
	for id, u := range dir.users {
		if u.Active && id != a.ID && slices.ContainsFunc(targets, func(t events.Target) bool { return matches(t, u) }) {
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return nil, refuse(CodeInvalidPayload, "targets: no active user of the directory matches them")
	}
	slices.Sort(out)
	return out, nil
}

func matches(t events.Target, u events.DirectoryUser) bool {
	return (t.Entity == events.TargetAll || t.Entity == u.Entity) && (t.Role == events.TargetAll || t.Role == u.Role)
}

// ChangedUsers decides a directory write: the users whose entry differs
// from the directory's, in order (a repeat of the same write changes
// nothing and appends nothing).
func ChangedUsers(dir *Directory, users []events.DirectoryUser) []events.DirectoryUser {
	var out []events.DirectoryUser
	for _, u := range users {
		if old, ok := dir.User(u.ID); !ok || old != u {
			out = append(out, u)
		}
	}
	return out
}

// targeted records an announcement's part as in the log (its members are
// the roster's): a retried announcement appends only the parts it lacks.
func (s *State) targeted(e *events.Envelope, _ *events.AnnouncementTargeted) error {
	s.markDone(e.ID)
	return nil
}
