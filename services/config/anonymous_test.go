package config_test

import (
	"slices"
	"testing"
	"time"

	"github.com/chatbackend/chat/services/config"
)

func TestAnonymousAndFileLimitsHaveDefaultsAndTakeTheFilesValues(t *testing.T) {
	apps, err := config.LoadApps(writeYAML(t, `
applications:
  shop:
    anonymousChat: true
    limits:
      anonymousDeviceBurst: 1
      anonymousPerAddressPerMinute: 120
      anonymousTokenHours: 2
      maxFileBytes: 1024
      fileTypes: [application/pdf]
  plain: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	shop, plain := apps["shop"], apps["plain"]
	if l := plain.Limits; l.AnonymousPerDevicePerMinute != 6 || l.AnonymousDeviceBurst != 3 || l.AnonymousPerAddressPerMinute != 30 ||
		l.AnonymousAddressBurst != 20 || l.AnonymousTokenHours != 720 || l.MaxFileBytes != 25<<20 ||
		!slices.Equal(l.FileTypes, config.DefaultFileTypes) {
		t.Errorf("defaults = %+v", l)
	}
	if l := shop.Limits; l.AnonymousDeviceBurst != 1 || l.AnonymousPerDevicePerMinute != 6 || l.AnonymousPerAddressPerMinute != 120 ||
		shop.AnonymousTokenTTL() != 2*time.Hour || l.MaxFileBytes != 1024 {
		t.Errorf("shop limits = %+v", l)
	}
	if !shop.AllowsFileType("application/pdf") || shop.AllowsFileType("image/png") || !plain.AllowsFileType("image/png") {
		t.Errorf("file types: shop %v, plain %v", shop.Limits.FileTypes, plain.Limits.FileTypes)
	}
	if r := apps.AnonymousAddressRates()["shop"]; r.PerSecond != 2 || r.Burst != 20 {
		t.Errorf("shop address rate = %+v, want 2/s burst 20", r)
	}
}

func TestOrphanUploadsAreKeptADayByDefault(t *testing.T) {
	c, err := config.Load("chatd", nil, envOf(map[string]string{"CHAT_JWT_SECRET": secret32}))
	if err != nil {
		t.Fatal(err)
	}
	if c.FileOrphanAfter != 24*time.Hour {
		t.Fatalf("FileOrphanAfter = %v, want 24h", c.FileOrphanAfter)
	}
	c, err = config.Load("chatd", []string{"--file-orphan-after=90m"}, envOf(map[string]string{"CHAT_JWT_SECRET": secret32}))
	if err != nil || c.FileOrphanAfter != 90*time.Minute {
		t.Fatalf("FileOrphanAfter = %v (%v), want the flag's 90m", c.FileOrphanAfter, err)
	}
}
