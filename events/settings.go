package events

import "fmt"

// The user room: a user's own settings, replaced as a whole by each change
// (PUT /users/me/settings) and delivered to their other devices.
const TypeSettingsChanged Type = "SettingsChanged"

// MaxMutedConversations bounds a settings document.
const MaxMutedConversations = 500

// Notifications are a user's notification preferences.
type Notifications struct {
	// Enabled off: no notification record is made for the user.
	Enabled bool `json:"enabled"`
}

// UserSettings is the whole document (PROTOCOL §3).
type UserSettings struct {
	// MutedConversations produce no notification records; sorted, each once.
	MutedConversations []string      `json:"mutedConversations"`
	Notifications      Notifications `json:"notifications"`
}

// DefaultSettings are a user's settings before their first change.
func DefaultSettings() UserSettings {
	return UserSettings{MutedConversations: []string{}, Notifications: Notifications{Enabled: true}}
}

// Muted reports whether conversation conv is muted.
func (s *UserSettings) Muted(conv string) bool {
	for _, c := range s.MutedConversations {
		if c == conv {
			return true
		}
	}
	return false
}

// SettingsChanged replaces UserID's settings.
type SettingsChanged struct {
	UserID   string       `json:"userId"`
	Settings UserSettings `json:"settings"`
}

func (*SettingsChanged) EventType() Type   { return TypeSettingsChanged }
func (e *SettingsChanged) scopeID() string { return e.UserID }
func (e *SettingsChanged) Validate() error {
	if !ValidID(e.UserID) {
		return fmt.Errorf("userId: invalid id %q", e.UserID)
	}
	muted := e.Settings.MutedConversations
	if len(muted) > MaxMutedConversations {
		return fmt.Errorf("settings.mutedConversations: at most %d", MaxMutedConversations)
	}
	for i, c := range muted {
		if !ValidID(c) {
			return fmt.Errorf("settings.mutedConversations[%d]: invalid id %q", i, c)
		}
		if i > 0 && muted[i-1] >= c {
			return fmt.Errorf("settings.mutedConversations: not sorted or %q listed twice", c)
		}
	}
	return nil
}

// SettingsSubject is the subject of a user's settings changes: its last
// event is the user's settings, the position a change is decided at.
func SettingsSubject(app, user string) string {
	return SubjectOf(app, &SettingsChanged{UserID: user})
}

// TypeNotificationsRead marks a user's notification records read.
const TypeNotificationsRead Type = "NotificationsRead"

// NotificationsRead: every notification record of UserID at or before
// position UpTo is read. Positions only grow (decided at the user's last
// mark).
type NotificationsRead struct {
	UserID string `json:"userId"`
	UpTo   uint64 `json:"upTo"`
}

func (*NotificationsRead) EventType() Type   { return TypeNotificationsRead }
func (e *NotificationsRead) scopeID() string { return e.UserID }
func (e *NotificationsRead) Validate() error {
	if !ValidID(e.UserID) {
		return fmt.Errorf("userId: invalid id %q", e.UserID)
	}
	if e.UpTo == 0 {
		return fmt.Errorf("upTo: missing")
	}
	return nil
}

// NotificationsReadSubject is the subject of a user's read marks.
func NotificationsReadSubject(app, user string) string {
	return SubjectOf(app, &NotificationsRead{UserID: user})
}
