package decide

import (
	"errors"
	"slices"
	"testing"

	"github.com/chatbackend/chat/events"
)

// geosector: two entities, each with an admin and members; one inactive
// member; one user of no entity.
func geosectorDirectory() *Directory {
	d := NewDirectory()
	d.Apply(&events.DirectoryUsersUpdated{Users: []events.DirectoryUser{
		{ID: "boss", Entity: "", Role: "super_admin", Active: true},
		{ID: "adm5", Entity: "5", Role: "admin", Active: true},
		{ID: "ann5", Entity: "5", Role: "member", Active: true},
		{ID: "bob5", Entity: "5", Role: "member", Active: true},
		{ID: "old5", Entity: "5", Role: "member", Active: false},
		{ID: "adm6", Entity: "6", Role: "admin", Active: true},
		{ID: "cat6", Entity: "6", Role: "member", Active: true},
		{ID: "loner", Entity: "", Role: "member", Active: true},
	}})
	return d
}

func TestWhoMayTargetWhomAndTheAudienceTheyReach(t *testing.T) {
	super := Announcer{ID: "boss", Super: true}
	admin5 := Announcer{ID: "adm5", EntityAdmin: true, Entity: "5"}
	admin0 := Announcer{ID: "adm0", EntityAdmin: true}
	member5 := Announcer{ID: "ann5", Entity: "5"}
	all, admins := events.TargetAll, "admin"
	cases := []struct {
		name    string
		caller  Announcer
		targets []events.Target
		code    string // "" when allowed
		want    []string
	}{
		{"super admin: everyone", super, []events.Target{{Entity: all, Role: all}}, "",
			[]string{"adm5", "adm6", "ann5", "bob5", "cat6", "loner"}},
		{"super admin: every entity's admins (the seed's case)", super, []events.Target{{Entity: all, Role: admins}}, "", []string{"adm5", "adm6"}},
		{"super admin: one entity", super, []events.Target{{Entity: "6", Role: all}}, "", []string{"adm6", "cat6"}},
		{"super admin: admins of entity 5", super, []events.Target{{Entity: "5", Role: admins}}, "", []string{"adm5"}},
		{"super admin: a union of targets, each user once", super,
			[]events.Target{{Entity: "5", Role: admins}, {Entity: all, Role: admins}, {Entity: "6", Role: "member"}}, "",
			[]string{"adm5", "adm6", "cat6"}},
		{"entity admin: their entity, every role, not themselves", admin5, []events.Target{{Entity: "5", Role: all}}, "",
			[]string{"ann5", "bob5"}},
		{"entity admin: one role of their entity", admin5, []events.Target{{Entity: "5", Role: "member"}}, "", []string{"ann5", "bob5"}},
		{"entity admin: another entity", admin5, []events.Target{{Entity: "6", Role: all}}, CodeForbidden, nil},
		{"entity admin: every entity", admin5, []events.Target{{Entity: all, Role: admins}}, CodeForbidden, nil},
		{"entity admin: their own and another", admin5, []events.Target{{Entity: "5", Role: all}, {Entity: "6", Role: all}}, CodeForbidden, nil},
		{"entity admin of no entity", admin0, []events.Target{{Entity: "5", Role: all}}, CodeForbidden, nil},
		{"member: their own entity", member5, []events.Target{{Entity: "5", Role: all}}, CodeForbidden, nil},
		{"member: everyone", member5, []events.Target{{Entity: all, Role: all}}, CodeForbidden, nil},
		{"unknown entity", super, []events.Target{{Entity: "9", Role: all}}, CodeInvalidPayload, nil},
		{"unknown role", super, []events.Target{{Entity: all, Role: "mayor"}}, CodeInvalidPayload, nil},
		{"malformed entity", super, []events.Target{{Entity: "5 6", Role: all}}, CodeInvalidPayload, nil},
		{"no targets", super, nil, CodeInvalidPayload, nil},
		{"an audience of nobody: only the author", super, []events.Target{{Entity: all, Role: "super_admin"}}, CodeInvalidPayload, nil},
		{"an audience of nobody: no active match", super, []events.Target{{Entity: "6", Role: "super_admin"}}, CodeInvalidPayload, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Audience(tc.caller, tc.targets, geosectorDirectory())
			var ref *Refusal
			switch {
			case tc.code == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.code != "" && (!errors.As(err, &ref) || ref.Code != tc.code):
				t.Fatalf("got %v, %v; want refusal %s", got, err, tc.code)
			case !slices.Equal(got, tc.want):
				t.Fatalf("audience %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDirectoryKeepsTheLastEntryOfEachUser(t *testing.T) {
	d := geosectorDirectory()
	d.Apply(&events.DirectoryUsersUpdated{Users: []events.DirectoryUser{{ID: "cat6", Entity: "7", Role: "member", Active: true}}})
	if u, _ := d.User("cat6"); !d.HasEntity("6") || !d.HasEntity("7") || u.Entity != "7" {
		t.Fatalf("after a move: entity 6 %v, 7 %v, cat6 %+v", d.HasEntity("6"), d.HasEntity("7"), u)
	}
	d.Apply(&events.DirectoryUsersUpdated{Users: []events.DirectoryUser{{ID: "adm6", Entity: "7", Role: "admin", Active: true}}})
	if d.HasEntity("6") {
		t.Fatal("entity 6 is still known with nobody in it")
	}
	got, err := Audience(Announcer{ID: "boss", Super: true}, []events.Target{{Entity: "7", Role: events.TargetAll}}, d)
	if err != nil || !slices.Equal(got, []string{"adm6", "cat6"}) {
		t.Fatalf("entity 7 reaches %v, %v", got, err)
	}
}

func TestARepeatedDirectoryWriteChangesNothing(t *testing.T) {
	d := geosectorDirectory()
	same := events.DirectoryUser{ID: "bob5", Entity: "5", Role: "member", Active: true}
	moved := events.DirectoryUser{ID: "ann5", Entity: "6", Role: "member", Active: true}
	fresh := events.DirectoryUser{ID: "new", Entity: "5", Role: "member", Active: true}
	got := ChangedUsers(d, []events.DirectoryUser{same, moved, fresh})
	if !slices.Equal(got, []events.DirectoryUser{moved, fresh}) {
		t.Fatalf("changed %v", got)
	}
	if got := ChangedUsers(d, []events.DirectoryUser{same}); len(got) != 0 {
		t.Fatalf("a repeat changes %v", got)
	}
}
