package pos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/queue"
)

// send decides the job's action and applies it. It probes the mechanics of
// a Stamp, Reward or Membership template the API says the guess was wrong
// for: each probe is a fresh send of the same job with the same marker,
// which is safe because a rejected request was not applied.
func (w *Worker) send(ctx context.Context, job queue.Job, now time.Time) error {
	r := w.rules()
	card, err := w.lookup(ctx, job, r)
	if err != nil {
		// Its own time: a backoff counts from the failure, and a dead
		// network can take a while to say so.
		return w.lookupFailed(ctx, job, err, w.now())
	}
	mech, declared := r.Mechanics[card.TemplateID]
	if !declared {
		mech, _ = w.cache.Mechanics(card.TemplateID)
	}
	var tried []Mechanics
	for {
		a, err := w.decide(job, *card, mech, r)
		if err != nil {
			if errors.Is(err, ErrNeedPurchaseSum) && len(tried) > 0 && mech == MechSpend {
				w.learn(card.TemplateID, mech, "every other accrual was refused") // by elimination
			}
			return w.refuse(job, now, refusal{phase: phaseDecide, err: err, why: refusalText(err)})
		}
		a.Card, a.Comment = job.Card, w.comment(job, r)
		if job.Undoes != "" {
			// Names the job taken back, without its marker: the marker must
			// stay on that job's one operation for reconciliation.
			a.Comment = w.marker(job) + " undoes " + job.Undoes
		}
		if err := w.q.Sending(job.ID, describe(a), now); err != nil {
			return err // from here on, a crash leaves the job to be reconciled
		}
		res, err := w.api.Apply(ctx, a)
		now = w.now()
		used, accrual := mechanicsOf(card.Type, a.Method)
		accrual = accrual && job.Undoes == "" // an undo reverses what was applied: nothing to learn or probe
		if accrual && !declared && (err == nil || errors.Is(err, apiclient.ErrRejected) && !wrongMechanics(err)) {
			// Accepted, or refused for another reason (a daily visit
			// limit): either way the accrual type fits the template.
			w.learn(card.TemplateID, used, "the API accepted the accrual type of "+string(a.Method))
		}
		if errors.Is(err, apiclient.ErrRejected) && wrongMechanics(err) && accrual && !declared {
			tried = append(tried, used)
			if next, ok := nextCandidate(card.Type, tried); ok {
				w.log.Info().Str("job", job.ID).Int("template", card.TemplateID).Str("refused", string(used)).
					Str("trying", string(next)).Msg("API says the accrual type is wrong for this template; trying the next")
				if err := w.q.Retry(job.ID, attempt("send", now, err), now); err != nil {
					return err
				}
				mech = next
				continue
			}
		}
		return w.outcome(ctx, sent{job: job, card: card, action: a, answer: res, err: err, at: now, declared: declared})
	}
}

// decide returns the job's action: what the rules say for the card, or,
// for a job that undoes another, the reverse of what that one applied.
func (w *Worker) decide(job queue.Job, card apiclient.Card, mech Mechanics, r Rules) (apiclient.Action, error) {
	if job.Undoes != "" {
		return w.undoAction(job)
	}
	return r.Decide(card, mech, job.Mode, job.PurchaseSum)
}

// sent is one send of a job and what came of it.
type sent struct {
	job      queue.Job
	card     *apiclient.Card  // the card as looked up before the send
	action   apiclient.Action // what was sent
	answer   *apiclient.Card  // the card in the API's answer, if it was applied
	err      error            // the client's outcome class; nil: applied
	at       time.Time        // when the answer came
	declared bool             // the template's mechanics come from config, not learning
}

// outcome maps the client's outcome class of a send to a queue verb and
// tells the cashier.
func (w *Worker) outcome(ctx context.Context, s sent) error {
	job, now, err := s.job, s.at, s.err
	at := attempt("send", now, err)
	switch {
	case err == nil:
		w.succeeded(now)
		balance := ""
		if s.answer != nil {
			s.answer.Type = s.card.Type // the answer's type string says the same; keep the cached one if it is missing
			balance = BalanceText(*s.answer, w.cfg.Currency)
		}
		if err := w.q.Done(job.ID, at, balance); err != nil {
			return err
		}
		ev := jobEvent(job, EventApplied, now)
		ev.Balance, ev.Message, ev.Action = balance, cashierLine(s.action, s.answer, w.cfg.Currency), describe(s.action)
		w.feed.publish(ev)
		return nil
	case errors.Is(err, apiclient.ErrAmbiguous):
		w.answered(now, err)
		if err := w.q.Ambiguous(job.ID, at, now.Add(w.cfg.Settle), 0); err != nil {
			return err
		}
		w.feed.publish(reconcilingEvent(job, now, err))
		return nil
	case errors.Is(err, apiclient.ErrRejected):
		w.answered(now, nil)
		r := refusal{phase: phaseSent, action: describe(s.action), err: err, why: refusalText(err)}
		if wrongMechanics(err) && s.declared {
			r.why = fmt.Sprintf("the API refused %s for this card's template (%d): check its mechanics in the config",
				s.action.Method, s.card.TemplateID)
		}
		if statusOf(err) == 404 {
			if ferr := w.cache.Forget(job.Card); ferr != nil {
				w.log.Warn().Err(ferr).Msg("cannot update the card cache")
			}
		}
		return w.refuse(job, now, r)
	case errors.Is(err, apiclient.ErrUnauthorized):
		w.keyRefused(now, err)
		return w.q.Retry(job.ID, at, now) // sent again as soon as the client accepts a key
	default: // not sent, or 429: certainly not applied
		if ctx.Err() != nil {
			return w.q.Retry(job.ID, at, now) // shutting down: not a network problem
		}
		return w.q.Retry(job.ID, at, w.failed(now, err, job))
	}
}

// lookup returns the card: from the cache (no request) unless the rule
// needs its current balance (receive-reward picking a tier), else GET.
func (w *Worker) lookup(ctx context.Context, job queue.Job, r Rules) (*apiclient.Card, error) {
	if info, ok := w.cache.Get(job.Card); ok && !r.needsBalance(info.Type, info.TemplateID, job.Mode) {
		return &apiclient.Card{ID: job.Card, Type: info.Type, TemplateID: info.TemplateID,
			AvailableRewardTiers: info.RewardTiers}, nil
	}
	c, err := w.api.GetCard(ctx, job.Card)
	if err != nil {
		return nil, err
	}
	w.succeeded(w.now())
	c.ID = job.Card
	if err := w.cache.Put(job.Card, CardInfo{Type: c.Type, TemplateID: c.TemplateID,
		RewardTiers: c.AvailableRewardTiers, UpdatedAt: w.now()}); err != nil {
		w.log.Warn().Err(err).Msg("cannot update the card cache (the next scan of this card costs a GET again)")
	}
	return c, nil
}

// lookupFailed handles a failed GET /cards: a read, so nothing was applied
// and every failure but "unknown card" is simply tried again later. The
// job stays pending; only the worker's backoff changes.
func (w *Worker) lookupFailed(ctx context.Context, job queue.Job, err error, now time.Time) error {
	switch {
	case errors.Is(err, apiclient.ErrRejected):
		w.answered(now, nil)
		return w.refuse(job, now, refusal{phase: phaseLookup, err: err, why: refusalText(err)})
	case errors.Is(err, apiclient.ErrUnauthorized):
		w.keyRefused(now, err)
	case ctx.Err() != nil:
	default:
		w.failed(now, err, job)
	}
	return nil
}

// phase is how far a job got before it was refused.
type phase int

const (
	phaseDecide    phase = iota // the rules refused it: nothing was sent
	phaseLookup                 // GET /cards refused the card: nothing was sent
	phaseSent                   // the API refused the action that was sent
	phaseReconcile              // the API refused the read that would settle an uncertain send
)

// attemptKind is the Attempt.Kind a refusal in this phase is recorded as.
func (p phase) attemptKind() string {
	switch p {
	case phaseDecide:
		return "decide"
	case phaseReconcile:
		return "reconcile"
	}
	return "send"
}

// refusal is why a job cannot be applied as it is.
type refusal struct {
	phase  phase
	action string // the action the API refused (phaseSent), e.g. "add-stamp 1"
	err    error
	why    string // for the cashier and the job's reason
}

// needsOperator reports whether the till cannot settle the job by itself:
// an uncertain send whose check the API refuses (it may have been
// applied), or a request the client would not send because tillscan built
// it wrong (a bug, or a card pattern that extracts what is not a card
// number). Every other refusal is a definite no.
func (r refusal) needsOperator() bool { return r.phase == phaseReconcile || r.ownBug() }

// ownBug reports whether the client refused to send what tillscan built.
func (r refusal) ownBug() bool {
	return r.phase != phaseDecide && errors.Is(r.err, apiclient.ErrRejected) && statusOf(r.err) == 0
}

// refuse ends a job that cannot be applied as it is. A definite no (the
// rules, an unknown card, the API's business refusal) is refused: final,
// kept for audit, told to the cashier at once, and it holds none of the
// card's later scans. What needs an operator is parked dead instead, and
// so is every refusal with ParkRefusals.
func (w *Worker) refuse(job queue.Job, now time.Time, r refusal) error {
	if r.ownBug() {
		r.why = "tillscan built a request the API client will not send (" + r.err.Error() +
			"): check the card pattern in the config, or report a bug; then drop or retry the job"
	}
	at := attempt(r.phase.attemptKind(), now, r.err)
	ev := jobEvent(job, EventRefused, now)
	ev.Action, ev.Err = r.action, r.err.Error()
	ev.Message = job.Card + ": NOT applied — " + r.why
	switch {
	case r.needsOperator() || w.cfg.ParkRefusals:
		if err := w.park(job, now, at, r); err != nil {
			return err
		}
		if r.needsOperator() {
			ev.Kind = EventDead
			if r.phase == phaseReconcile {
				ev.Action = job.Action
			}
		}
	default:
		if err := w.q.Refuse(job.ID, at, r.why); err != nil {
			return err
		}
	}
	w.feed.publish(ev)
	return nil
}

// park makes the job dead: it waits for an operator and holds its card.
func (w *Worker) park(job queue.Job, now time.Time, at queue.Attempt, r refusal) error {
	if (r.phase == phaseDecide || r.phase == phaseLookup) && job.State == queue.Pending {
		// The queue parks only jobs being sent or reconciled; record the
		// (empty) send first. A crash in between is reconciled: nothing
		// is found, and the same refusal follows.
		if err := w.q.Sending(job.ID, "none: "+r.why, now); err != nil {
			return err
		}
	}
	return w.q.Dead(job.ID, at, r.why)
}

// learn remembers a template's mechanics.
func (w *Worker) learn(templateID int, m Mechanics, why string) {
	if old, ok := w.cache.Mechanics(templateID); ok && old == m {
		return
	}
	w.log.Info().Int("template", templateID).Str("mechanics", string(m)).Str("because", why).Msg("learned template mechanics")
	if err := w.cache.LearnMechanics(templateID, m); err != nil {
		w.log.Warn().Err(err).Msg("cannot save learned mechanics")
	}
}

func (w *Worker) marker(job queue.Job) string {
	till := job.TillID
	if till == "" {
		till = w.cfg.TillID
	}
	return Marker(till, job.ID)
}

func (w *Worker) comment(job queue.Job, r Rules) string {
	if r.Comment == "" {
		return w.marker(job)
	}
	return w.marker(job) + " " + r.Comment
}

// nextCandidate returns the first mechanics of t not yet tried.
func nextCandidate(t apiclient.CardType, tried []Mechanics) (Mechanics, bool) {
	for _, m := range MechanicsCandidates(t) {
		if !slices.Contains(tried, m) {
			return m, true
		}
	}
	return "", false
}

// wrongMechanics reports whether a rejection is the API's "Irrelevant
// accrual type". The API gives no code for it, only this message, so this
// is the one place tillscan reads the wording (docs/api.md, "Errors and
// what they mean for tillscan"); every other branch uses the outcome class.
func wrongMechanics(err error) bool {
	se, ok := errors.AsType[*apiclient.StatusError](err)
	return ok && strings.Contains(strings.ToLower(se.Message), "irrelevant accrual")
}

func statusOf(err error) int {
	if se, ok := errors.AsType[*apiclient.StatusError](err); ok {
		return se.Status
	}
	return 0
}

// attempt records one try and its outcome class.
func attempt(kind string, now time.Time, err error) queue.Attempt {
	a := queue.Attempt{At: now, Kind: kind, Outcome: outcomeOf(err), HTTPStatus: statusOf(err)}
	if err != nil {
		a.Error = err.Error()
	}
	return a
}

func outcomeOf(err error) string {
	switch {
	case err == nil:
		return "applied"
	case errors.Is(err, apiclient.ErrAmbiguous):
		return "ambiguous"
	case errors.Is(err, apiclient.ErrRejected):
		return "rejected"
	case errors.Is(err, apiclient.ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, apiclient.ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, apiclient.ErrNotSent):
		return "not_sent"
	}
	return "refused"
}

// describe writes an action for the job's audit trail: "add-stamp 1".
func describe(a apiclient.Action) string {
	if a.Method.Field() == "" {
		return string(a.Method)
	}
	return string(a.Method) + " " + fmtNum(a.Quantity)
}
