package idkey_test

import (
	"strconv"
	"testing"

	"github.com/chatbackend/chat/services/idkey"
)

func TestKeysTellPairsApart(t *testing.T) {
	seen := map[idkey.Key]string{}
	for _, app := range []string{"geosector", "resalice", "geosector/x", ""} {
		for i := range 50000 {
			pair := app + "\x00" + strconv.Itoa(i)
			k := idkey.Of(app, strconv.Itoa(i))
			if other, dup := seen[k]; dup {
				t.Fatalf("%q and %q share a key", pair, other)
			}
			seen[k] = pair
		}
	}
	// The separator keeps a boundary moved between app and id apart.
	if idkey.Of("ab", "c") == idkey.Of("a", "bc") {
		t.Fatal("(ab, c) and (a, bc) share a key")
	}
	if idkey.Of("geosector", "m1") != idkey.Of("geosector", "m1") {
		t.Fatal("the same pair gave two keys")
	}
}

func BenchmarkOf(b *testing.B) {
	for range b.N {
		_ = idkey.Of("geosector", "01JD3V9ZQ7XW4T5R8K2M6N0PAB")
	}
}
