package events

import "fmt"

// Service events: internal services of an application and their accounts.
const TypeServiceAccountCreated Type = "ServiceAccountCreated"

// ServiceAccountCreated gives an internal service of the application its NATS
// account (PROTOCOL §4). It carries no secret: every chatd derives the
// password from its own NATS secret. The event id is ServiceAccountID, so
// creating the same account twice is one event.
type ServiceAccountCreated struct {
	Name string `json:"name"`
}

func (*ServiceAccountCreated) EventType() Type { return TypeServiceAccountCreated }
func (*ServiceAccountCreated) scopeID() string { return "" }
func (e *ServiceAccountCreated) Validate() error {
	if !ValidServiceName(e.Name) {
		return fmt.Errorf("name: invalid service name %q", e.Name)
	}
	return nil
}

// ValidServiceName reports whether s matches ^[a-z0-9][a-z0-9-]{0,31}$. A
// service name has no "_", so the NATS user svc_{name}_{app} names one
// account only.
func ValidServiceName(s string) bool {
	if len(s) == 0 || len(s) > 32 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
