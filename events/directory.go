package events

import (
	"errors"
	"fmt"
)

// Directory events: the host application's users as its service writes them
// (PUT /directory/users/{id}, POST /directory/users:batch), used to resolve
// announcement audiences. Application-wide: chat.evt.{app}.app.directory.users.updated.
const TypeDirectoryUsersUpdated Type = "DirectoryUsersUpdated"

// MaxDirectoryUsersPerEvent bounds one DirectoryUsersUpdated under the log's
// 1 MiB message limit whatever the ids and names: a name of 200 control
// characters is 1,200 bytes of JSON escapes, a user at most about 1,450.
const MaxDirectoryUsersPerEvent = 500

// MaxDirectoryName bounds a directory user's display name, in bytes.
const MaxDirectoryName = 200

// DirectoryUser is one user of the host application as the directory keeps
// them: Entity may be empty (a user of no entity, reached only by "all").
type DirectoryUser struct {
	ID     string `json:"id"`
	Entity string `json:"entity"`
	Role   string `json:"role"`
	Name   string `json:"name,omitempty"`
	Active bool   `json:"active"`
}

// Validate checks one user's fields.
func (u *DirectoryUser) Validate() error {
	if !ValidID(u.ID) {
		return fmt.Errorf("id: invalid id %q", u.ID)
	}
	if u.Entity != "" && !ValidID(u.Entity) {
		return fmt.Errorf("entity: invalid id %q", u.Entity)
	}
	if !ValidID(u.Role) || u.Role == TargetAll {
		return fmt.Errorf("role: invalid role %q", u.Role)
	}
	if u.Entity == TargetAll {
		return fmt.Errorf("entity: %q names every entity, not one", TargetAll)
	}
	if len(u.Name) > MaxDirectoryName {
		return fmt.Errorf("name: at most %d bytes", MaxDirectoryName)
	}
	return checkText("name", u.Name)
}

// DirectoryUsersUpdated sets users of the directory, each replacing what the
// directory held for that id.
type DirectoryUsersUpdated struct {
	Users []DirectoryUser `json:"users"`
}

func (*DirectoryUsersUpdated) EventType() Type { return TypeDirectoryUsersUpdated }
func (*DirectoryUsersUpdated) scopeID() string { return "" }
func (e *DirectoryUsersUpdated) Validate() error {
	if len(e.Users) == 0 {
		return errors.New("users: empty")
	}
	if len(e.Users) > MaxDirectoryUsersPerEvent {
		return fmt.Errorf("users: at most %d per event", MaxDirectoryUsersPerEvent)
	}
	seen := make(map[string]bool, len(e.Users))
	for i := range e.Users {
		if err := e.Users[i].Validate(); err != nil {
			return fmt.Errorf("users[%d].%w", i, err)
		}
		if seen[e.Users[i].ID] {
			return fmt.Errorf("users[%d].id: %q listed twice", i, e.Users[i].ID)
		}
		seen[e.Users[i].ID] = true
	}
	return nil
}

// DirectorySubjects matches every directory event of one application:
// deciding at the directory's position means at the last sequence stored
// under it.
func DirectorySubjects(app string) string {
	return SubjectRoot + "." + app + ".app.directory.>"
}
