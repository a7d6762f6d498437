// Package queue is the durable job queue of tillscan: every scan the cashier
// was told is "saved" lives here, in one bbolt file, until the API has
// applied it (done), refused it for good (refused), an operator has dropped
// it (a tombstone), or it is pruned after the retention period. The queue
// does not know what a job means or how it is sent (package pos does); it
// owns durability, the state machine of a job, per-card order, the
// integrity of the file and the operator's view of the backlog.
//
// # Durability
//
// Every change is made in a bbolt read-write transaction committed with
// fsync (bbolt's NoSync is never set). Changes that callers make at the same
// time share one commit (group commit: a lone caller commits at once, and
// callers that arrive while a commit is being fsync'd go into the next one),
// and each call returns only after the commit holding its change is on disk.
// So Enqueue's nil error is what lets the till say "saved"; any error means
// NOT saved.
// A job is written as sending before each HTTP attempt, so a crash mid-send
// leaves sending on disk and Open turns it into ambiguous (to be reconciled),
// never back into pending. A new queue file is built under a temporary name,
// fsync'd, then linked into place and its directory fsync'd, so a power cut
// during creation never leaves a half-initialised file under the real name.
//
// # Order and scheduling
//
// Job ids are ULIDs: sortable by creation and unique across queue files, so a
// queue file moved aside and recreated never reuses an id (ids go into the
// API comment marker). Within one file ids only grow, even if the clock steps
// back. A card's unfinished jobs are kept in id order; only the oldest (the
// card's head) can be handed out, and only while it is pending or ambiguous.
// Heads that are due sit in an index keyed by (due time, id), so Next is
// one B+tree lookup whatever the backlog. A dead head blocks its card until
// an operator retries, resolves or drops it; a refused job is finished and
// never blocks it.
//
// # Invariants (verified at Open and by Check)
//
// The job records are the truth; every index is derived from them (entries
// in integrity.go says how):
//
//   - Every record decodes to a valid job stored under its own id.
//   - Every job has exactly one entry in the state index, matching its state,
//     and one in its card's history; the counters match the state index.
//   - Every unfinished job (pending, sending, ambiguous, dead) has an entry in
//     its card's index; only a card's head may be sending.
//   - The due index holds exactly the heads that are pending or ambiguous,
//     keyed by their NextAttempt.
//   - Done, refused and dropped jobs are in the finished index, keyed by
//     FinishedAt.
//   - The last issued id is at least every job's id.
//   - No byte slice read from bbolt escapes its transaction.
//
// Open audits this (one pass over the records) after bbolt's structural
// check. If an index disagrees, Open rebuilds every index from the records;
// a record that does not decode to a valid job is quarantined: moved byte
// for byte to a quarantine bucket, in no index, never handed out, holding no
// card, counted in Stats and listed by Quarantined. A call that meets such a
// record later does the same and carries on. Repaired reports what was done.
//
// A Queue is safe for concurrent use; bbolt serialises the writers.
package queue
