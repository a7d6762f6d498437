// Package pos is the till logic of tillscan: it turns a scan into a durable
// job and a job into exactly one applied card action, and tells the cashier
// what happened.
//
// The front half, [Till], runs on the scanner's goroutine: it recognises
// command barcodes (the next scan's mode or purchase sum, see
// [ParsePurchaseSum]) and the POS's amount barcode ([AmountBarcode]),
// extracts the card number ([Extractor]), drops repeats inside the dedupe
// window, enqueues the job and publishes what happened on the [Feed]. A
// known card whose scan cannot be applied as it is (no purchase sum, a sum
// the [Rounding] refuses, a cap or cooldown of [Caps] reached, counted
// from the queue's history) is refused at once and recorded refused for
// the day's report. It never touches the network.
//
// The back half, [Worker], drains the queue: up to WorkerConfig.InFlight
// jobs at once, each for a different card, so a slow API does not slow the
// drain while a card's own scans still go one by one in scan order. process
// owns one job end to end. It looks the card up (through the [Cache], so a repeat customer
// costs one API request), decides the action with the [Rules], records the
// job as sending, applies it with the comment marker [Marker] and maps the
// client's outcome class to a queue verb. An ambiguous outcome is
// reconciled against GET /operations (look for the marker, several times,
// after a settle delay) and re-sent with the same marker only when it is
// surely absent.
//
// A job ends applied, or refused: a definite no from the rules or the
// API's business rules, told to the cashier at once, kept for audit, and
// never holding the card's later scans. Only an uncertain job holds them
// (order matters while its outcome is unknown), and a job the till cannot
// settle by itself is parked dead for an operator.
//
// pos owns the decisions: which scans are cards, what each card gets, which
// outcome is final, when a scan deserves the good-read beep
// ([Event.GoodRead]). It does not own the key-refused pause (the API
// client does: the Worker reads [Loyalty].Status), read devices (package
// scanner), talk HTTP (package apiclient) or store jobs (package queue).
// The card cache ([NewCache]) keeps its entries in the queue's file too,
// through the queue's card store ([CardStore]).
//
// Every significant event is published once on the Feed, which is the
// journal's source: pos does not also log it.
package pos
