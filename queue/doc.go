// Package queue is the durable job queue of tillscan: every scan the cashier
// was told is "saved" lives here, in one bbolt file, until the API has
// applied it (done), an operator has dropped it (a tombstone), or it is
// pruned after the retention period. The queue does not know what a job
// means or how it is sent (package pos does); it owns durability, the state
// machine of a job, per-card order and the operator's view of the backlog.
//
// # Durability
//
// Every change is one bbolt read-write transaction, committed with fsync
// (bbolt's NoSync is never set). Enqueue returns only after the commit, so
// its nil error is what lets the till say "saved"; any error means NOT saved.
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
// an operator retries, resolves or drops it.
//
// # Invariants (verified by Check)
//
//   - Every job has exactly one entry in the state index, matching its state.
//   - Every unfinished job (pending, sending, ambiguous, dead) has an entry in
//     its card's index; only a card's head may be other than pending.
//   - The due index holds exactly the heads that are pending or ambiguous,
//     keyed by their NextAttempt.
//   - Done and dropped jobs are in the finished index, keyed by FinishedAt.
//   - No byte slice read from bbolt escapes its transaction.
//
// A Queue is safe for concurrent use; bbolt serialises the writers.
package queue
