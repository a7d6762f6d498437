package main

import (
	"io"

	"github.com/rs/zerolog/journald"
)

// journaldWriter writes structured records to the systemd journal.
func journaldWriter() (io.Writer, error) { return journald.NewJournalDWriter(), nil }
