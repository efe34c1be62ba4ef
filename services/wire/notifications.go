package wire

// Notification is the data of notification.new on a user's notifications
// topic (the user room), and a record of GET /users/me/notifications:
// something that concerns the user happened at the envelope's position.
type Notification struct {
	// Type is added_to_conversation, added_to_group, join_requested (to
	// the group's admins), join_accepted or join_refused.
	Type           string `json:"type"`
	ConversationID string `json:"conversationId,omitempty"`
	GroupID        string `json:"groupId,omitempty"`
	Name           string `json:"name,omitempty"`
	UserID         string `json:"userId,omitempty"`
	By             string `json:"by,omitempty"`
}

// Notification types.
const (
	NotifyAddedToConversation = "added_to_conversation"
	NotifyAddedToGroup        = "added_to_group"
	NotifyJoinRequested       = "join_requested"
	NotifyJoinAccepted        = "join_accepted"
	NotifyJoinRefused         = "join_refused"
)

// NotificationsRead is the data of notifications.read: every record at or
// before UpTo is read (sent to the user's devices).
type NotificationsRead struct {
	UpTo uint64 `json:"upTo"`
}
