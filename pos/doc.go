// Package pos is the till logic of tillscan: it turns a scan into a durable
// job and a job into exactly one applied card action.
//
// The front half, [Till], runs on the scanner's goroutine: it recognises
// command barcodes (the next scan's mode or purchase sum), extracts the card
// number ([Extractor]), drops repeats inside the dedupe window, enqueues the
// job and tells the cashier what happened through the [Feed]. It never
// touches the network.
//
// The back half, [Worker], drains the queue one job at a time: it looks the
// card up (through the persisted [Cache], so a repeat customer costs one API
// request), decides the action with the [Rules], records the job as sending,
// applies it with the comment marker [Marker] and maps the client's outcome
// class to a queue verb. An ambiguous outcome is reconciled against
// GET /operations (look for the marker, several times, after a settle
// delay) and re-sent with the same marker only when it is surely absent.
//
// pos does not read devices (package scanner), talk HTTP (package apiclient)
// or store jobs (package queue); it only decides.
package pos
