package wire

// GroupChange is the data of group.created, group.updated,
// group.member_joined and group.member_left (PROTOCOL §2 group.*).
type GroupChange struct {
	GroupID string `json:"groupId"`
	Name    string `json:"name,omitempty"`
	UserID  string `json:"userId,omitempty"`
	Role    string `json:"role,omitempty"`
	By      string `json:"by,omitempty"`
}
