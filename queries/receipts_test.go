package queries

import (
	"testing"
	"time"

	"github.com/chatbackend/chat/sql/db"
)

func TestReceiptsOfListReadersAsDeliveredAtTheirEarliestReceipt(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	got := receiptsOf([]db.MessageReceiptsRow{
		{UserID: "bob", Kind: "delivered", At: at(1)}, // received, read later
		{UserID: "bob", Kind: "read", At: at(9)},
		{UserID: "carol", Kind: "read", At: at(5)}, // read without saying it arrived
		{UserID: "dave", Kind: "delivered", At: at(7)},
		{UserID: "erin", Kind: "delivered", At: at(6)}, // a delivery after the read
		{UserID: "erin", Kind: "read", At: at(3)},
	})
	want := Receipts{
		Delivered: []Receipt{{"bob", at(1)}, {"erin", at(3)}, {"carol", at(5)}, {"dave", at(7)}},
		Read:      []Receipt{{"erin", at(3)}, {"carol", at(5)}, {"bob", at(9)}},
	}
	for name, lists := range map[string][2][]Receipt{"delivered": {got.Delivered, want.Delivered}, "read": {got.Read, want.Read}} {
		g, w := lists[0], lists[1]
		if len(g) != len(w) {
			t.Fatalf("%s: %v, want %v", name, g, w)
		}
		for i := range w {
			if g[i].UserID != w[i].UserID || !g[i].At.Equal(w[i].At) {
				t.Errorf("%s[%d]: %v, want %v", name, i, g[i], w[i])
			}
		}
	}
	if empty := receiptsOf(nil); empty.Delivered == nil || empty.Read == nil {
		t.Fatalf("no receipts: %+v, want two empty lists", empty)
	}
}
