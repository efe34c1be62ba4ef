package bridge

import "testing"

func TestUserKeyIsTheTopicUpToTheUser(t *testing.T) {
	for topic, want := range map[string]string{
		"chat/user/alice/messages":    "chat/user/alice",
		"resalice/user/anon-1/errors": "resalice/user/anon-1",
		"chat/user/bob":               "chat/user/bob",
		"chat/cmd/alice/send":         "",
		"chat":                        "",
		"x/chat/user/alice/messages":  "",
		"chat/users/alice/messages":   "",
	} {
		got, ok := userKey(topic)
		if (want == "") == ok || got != want {
			t.Errorf("userKey(%q) = %q, %v; want %q", topic, got, ok, want)
		}
	}
}
