package events

// The user room's security: the clients an account has connected from, so
// a connection from a new one can be told to the user's devices. The event
// is internal: no client sees it, and no table holds it; the bridge folds
// a user's events to decide whether a client is new.
const TypeClientSeen Type = "ClientSeen"

// ClientSeen: UserID connected, for the first time, from the client whose
// MQTT client id hashes to Client (ClientHash: the id itself may be any
// text).
type ClientSeen struct {
	UserID string `json:"userId"`
	Client string `json:"client"`
}

func (*ClientSeen) EventType() Type   { return TypeClientSeen }
func (e *ClientSeen) scopeID() string { return e.UserID }
func (e *ClientSeen) Validate() error {
	if err := checkIDs("userId", e.UserID, "client", e.Client); err != nil {
		return err
	}
	return nil
}

// ClientHash names an MQTT client id in a ClientSeen.
func ClientHash(clientID string) string { return "k" + digest("client", clientID) }

// ClientSeenID is the event's id: derived, so the same first connection
// recorded twice is one event.
func ClientSeenID(app, user, client string) string {
	return "v" + digest("client-seen", app, user, client)
}

// ClientsSubject is the subject of a user's ClientSeen events.
func ClientsSubject(app, user string) string { return SubjectOf(app, &ClientSeen{UserID: user}) }
