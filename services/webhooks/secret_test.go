package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestSealedSecretsOpenOnlyForTheirWebhook(t *testing.T) {
	s, err := NewSealer([]byte("a-deployment-secret-of-32-bytes!!"))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal("geosector", "audit", "s3cret-s3cret-s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "s3cret") {
		t.Fatalf("sealed secret shows the secret: %s", sealed)
	}
	if got, err := s.Open("geosector", "audit", sealed); err != nil || got != "s3cret-s3cret-s3cret" {
		t.Fatalf("open = %q, %v", got, err)
	}
	again, _ := s.Seal("geosector", "audit", "s3cret-s3cret-s3cret")
	if again == sealed {
		t.Fatal("two seals of one secret are equal: the nonce is not fresh")
	}
	other, _ := NewSealer([]byte("another-deployment-secret-32-byt"))
	tampered := sealed[:len(sealed)-2] + "AA"
	for name, open := range map[string]func() (string, error){
		"another app":        func() (string, error) { return s.Open("resalice", "audit", sealed) },
		"another webhook":    func() (string, error) { return s.Open("geosector", "other", sealed) },
		"another deployment": func() (string, error) { return other.Open("geosector", "audit", sealed) },
		"tampered":           func() (string, error) { return s.Open("geosector", "audit", tampered) },
		"not sealed":         func() (string, error) { return s.Open("geosector", "audit", "s3cret-s3cret-s3cret") },
		"not base64":         func() (string, error) { return s.Open("geosector", "audit", "v1.!!!") },
	} {
		if got, err := open(); err == nil {
			t.Errorf("%s: opened to %q", name, got)
		}
	}
}

func TestSignIsTheHMACOfTheBody(t *testing.T) {
	body := []byte(`{"id":"e1","type":"MessagePosted"}`)
	mac := hmac.New(sha256.New, []byte("key-key-key-key-key"))
	mac.Write(body)
	if got, want := Sign("key-key-key-key-key", body), "sha256="+hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestCheckRefusesBadDocuments(t *testing.T) {
	secret := func(s string) *string { return &s }
	ok := View{ID: "audit", URL: "https://hooks.example.com/chat", Events: []string{"message.posted"}}
	many := make([]View, 21)
	for i := range many {
		many[i] = ok
		many[i].ID = "w" + string(rune('a'+i))
	}
	cases := map[string][]View{
		"bad id":            {{ID: "a b", URL: ok.URL, Events: ok.Events}},
		"id twice":          {ok, ok},
		"ftp":               {{ID: "a", URL: "ftp://example.com/x", Events: ok.Events}},
		"relative":          {{ID: "a", URL: "/hook", Events: ok.Events}},
		"credentials":       {{ID: "a", URL: "https://u:p@example.com/", Events: ok.Events}},
		"no events":         {{ID: "a", URL: ok.URL}},
		"unknown event":     {{ID: "a", URL: ok.URL, Events: []string{"message.exploded"}}},
		"internal event":    {{ID: "a", URL: ok.URL, Events: []string{"webhooks.changed"}}},
		"event twice":       {{ID: "a", URL: ok.URL, Events: []string{"message.posted", "message.posted"}}},
		"short secret":      {{ID: "a", URL: ok.URL, Events: ok.Events, Secret: secret("short")}},
		"control char":      {{ID: "a", URL: ok.URL, Events: ok.Events, Secret: secret("0123456789abcdef\x00")}},
		"too many":          many,
		"NUL in URL":        {{ID: "a", URL: "https://example.com/\x00", Events: ok.Events}},
		"very long URL":     {{ID: "a", URL: "https://example.com/" + strings.Repeat("a", 3000), Events: ok.Events}},
		"invalid UTF-8 URL": {{ID: "a", URL: "https://example.com/\xff", Events: ok.Events}},
	}
	for name, doc := range cases {
		if err := check(doc); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := check([]View{ok, {ID: "all", URL: "http://10.0.0.1:8080/x", Events: []string{"*"}, Secret: secret("0123456789abcdef")}}); err != nil {
		t.Errorf("a good document refused: %v", err)
	}
}
