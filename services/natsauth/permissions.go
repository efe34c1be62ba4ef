package natsauth

import (
	"github.com/nats-io/nats-server/v2/server"

	"github.com/chatbackend/chat/events"
)

// Permissions are what a service may do: send commands of its application,
// read its application's events live, and run its one durable consumer on
// them. Everything not listed is refused, notably:
//   - publishing to chat.evt.> (appending events) and to other applications;
//   - $JS.API.STREAM.INFO (with subjects_filter it lists every tenant's
//     subjects) and every other stream or account-wide API;
//   - consumers under any other name, chatd's "fanout" and "moderation" among
//     them, and the unfiltered CONSUMER.CREATE subject: nats-server refuses a
//     create whose subject's filter differs from its config's, so the
//     permission on the filtered subject pins the consumer to the application;
//   - _INBOX.>: replies to other connections.
//
// NATS matches whole tokens, and a consumer name is one token, so the
// durable is a fixed name rather than a pattern.
func Permissions(s Service) *server.Permissions {
	const api = "$JS.API.CONSUMER."
	stream, dur := events.Stream, s.Durable()
	evt := events.SubjectRoot + "." + s.App + ".>"
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: []string{
			"chat.cmd." + s.App + ".>",
			api + "CREATE." + stream + "." + dur + "." + evt,
			api + "INFO." + stream + "." + dur,
			api + "DELETE." + stream + "." + dur,
			api + "MSG.NEXT." + stream + "." + dur,
			"$JS.ACK." + stream + "." + dur + ".>",
		}},
		Subscribe: &server.SubjectPermission{Allow: []string{
			evt,
			s.InboxPrefix() + ".>",
		}},
	}
}
