package config

import "slices"

// DefaultFileTypes are the content types an upload may have unless the
// applications file says otherwise: images and documents that browsers
// never run.
var DefaultFileTypes = []string{"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"}

// fillFiles gives the upload limits left out of the file their defaults:
// 25 MiB and DefaultFileTypes.
func fillFiles(l *Limits) {
	if l.MaxFileBytes == 0 {
		l.MaxFileBytes = 25 << 20
	}
	if len(l.FileTypes) == 0 {
		l.FileTypes = slices.Clone(DefaultFileTypes)
	}
}

// AllowsFileType reports whether an upload of content type t is allowed.
func (a *App) AllowsFileType(t string) bool { return slices.Contains(a.Limits.FileTypes, t) }
