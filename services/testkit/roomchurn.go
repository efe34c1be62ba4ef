package testkit

import (
	"fmt"
	"math/rand/v2"

	"github.com/chatbackend/chat/events"
)

// RoomChurn adds to a random history what groups and the user room do:
// groups created (some twice), renamed, asked to join (some twice, some by
// members), requests refused, members added (with a request or without,
// some as admins, some twice, some by themselves) and removed, settings
// changed (muting a conversation, turning notifications off) and
// notifications marked read. Property tests of fan-out, sync and replay
// mix it into their histories.
type RoomChurn struct{ groups, convs int }

// Step adds one such event (or creates a conversation in a group) about user u, with conv a conversation of the
// history, through add.
func (c *RoomChurn) Step(r *rand.Rand, add func(events.Payload), u, conv string) {
	ids := []string{"g0", "g1"}
	if c.groups == 0 || c.groups < len(ids) && r.IntN(10) == 0 {
		add(&events.GroupCreated{GroupID: ids[c.groups], Name: "team", CreatedBy: u})
		c.groups++
		return
	}
	g := ids[r.IntN(c.groups)]
	switch k := r.IntN(10); {
	case k == 0 && r.IntN(2) == 0:
		add(&events.GroupCreated{GroupID: g, Name: "again", CreatedBy: u}) // a repeat changes nothing
	case k == 0: // a conversation of the group
		c.convs++
		add(&events.ConversationCreated{ConversationID: fmt.Sprint("gc", c.convs), Kind: events.KindGroup,
			ReplyPermission: events.ReplyAll, CreatedBy: u, GroupID: g, Members: []events.Member{{UserID: u, Role: events.RoleAdmin}}})
	case k == 1:
		add(&events.GroupUpdated{GroupID: g, Name: fmt.Sprint("renamed <", r.IntN(100), "> & \u2028"), By: u})
	case k < 4:
		add(&events.GroupJoinRequested{GroupID: g, UserID: u})
	case k == 4:
		add(&events.GroupJoinRefused{GroupID: g, UserID: u, By: "u0"})
	case k < 7:
		role := events.RoleMember
		if r.IntN(4) == 0 {
			role = events.RoleAdmin
		}
		by := "u0"
		if r.IntN(5) == 0 {
			by = u
		}
		add(&events.GroupMemberJoined{GroupID: g, UserID: u, Role: role, By: by})
	case k == 7:
		add(&events.GroupMemberLeft{GroupID: g, UserID: u, By: u})
	case k == 8:
		set := events.DefaultSettings()
		if r.IntN(2) == 0 {
			set.MutedConversations = []string{conv}
		}
		set.Notifications.Enabled = r.IntN(4) != 0
		add(&events.SettingsChanged{UserID: u, Settings: set})
	default:
		add(&events.NotificationsRead{UserID: u, UpTo: uint64(1 + r.IntN(100))})
	}
}

// RoomDeliveries are the delivery types RoomChurn's events make.
var RoomDeliveries = []string{"group.created", "group.updated", "group.member_joined", "group.member_left",
	"notification.new", "notifications.read", "settings.changed"}
