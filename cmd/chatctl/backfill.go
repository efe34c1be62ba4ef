package main

import (
	"errors"
	"io"
)

func backfill(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	return errors.New("backfill: not yet")
}
