package sandbox

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Paging of every list endpoint. The real defaults are UNKNOWN (docs/api.md,
// "Envelope"); one live /operations answer reported itemsPerPage 1000, so 1000 is the
// cap, and 30 (API Platform's default) the default. A larger itemsPerPage is
// clamped to the cap, not refused.
const (
	defaultPerPage = 30
	maxPerPage     = 1000
)

// opRecord is a logged operation and its time, for the date filters.
type opRecord struct {
	op Operation
	at time.Time
}

// logLocked appends an applied action to the operations log.
func (a *API) logLocked(c *cardState, event int, amount, balance float64, body actionBody, now time.Time) {
	t := a.templateOfLocked(c)
	ts := fmtTime(now)
	op := Operation{
		ID:          a.nextOpID,
		CardID:      c.id,
		TemplateID:  c.templateID,
		CompanyID:   t.CompanyID,
		CustomerID:  c.customerID,
		EventID:     event,
		Amount:      amount,
		Balance:     balance,
		PurchaseSum: body.purchaseSum,
		Source:      "api",
		Comment:     body.comment,
		CreatedAt:   ts,
		UpdatedAt:   ts,
	}
	a.nextOpID++
	a.ops = append(a.ops, opRecord{op: op, at: now})
	a.applied[c.id]++
}

// renderOpLocked copies a logged operation, adding its customer.
func (a *API) renderOpLocked(r opRecord) Operation {
	op := r.op
	if op.Comment != nil {
		op.Comment = ptr(*op.Comment)
	}
	if op.PurchaseSum != nil {
		op.PurchaseSum = ptr(*op.PurchaseSum)
	}
	if cu, ok := a.customers[op.CustomerID]; ok {
		cc := *cu
		cc.Segments = append([]Segment{}, cu.Segments...)
		op.Customer = &cc
	}
	return op
}

// Operations returns the whole operations log, oldest first, in the shape
// of GET /operations items.
func (a *API) Operations() []Operation {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Operation, 0, len(a.ops))
	for _, r := range a.ops {
		out = append(out, a.renderOpLocked(r))
	}
	return out
}

// listOperations serves GET /operations with the filters cardId,
// customerId, templateId, startDate and endDate (Y-m-d, inclusive, UTC days),
// oldest first (the real order is UNKNOWN).
func (a *API) listOperations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, per, tid, err := listParams(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var start, end time.Time
	if s := q.Get("startDate"); s != "" {
		if start, err = time.Parse(dayFormat, s); err != nil {
			writeError(w, http.StatusBadRequest, "startDate: want Y-m-d, e.g. 2026-11-25")
			return
		}
	}
	if s := q.Get("endDate"); s != "" {
		if end, err = time.Parse(dayFormat, s); err != nil {
			writeError(w, http.StatusBadRequest, "endDate: want Y-m-d, e.g. 2026-11-25")
			return
		}
		end = end.AddDate(0, 0, 1) // inclusive: up to the end of that day
	}
	card, customer := q.Get("cardId"), q.Get("customerId")
	a.mu.Lock()
	var match []opRecord
	for _, rec := range a.ops {
		switch {
		case card != "" && rec.op.CardID != card,
			customer != "" && rec.op.CustomerID != customer,
			tid != 0 && rec.op.TemplateID != tid,
			!start.IsZero() && rec.at.Before(start),
			!end.IsZero() && !rec.at.Before(end):
			continue
		}
		match = append(match, rec)
	}
	from, to := pageBounds(len(match), page, per)
	items := make([]Operation, 0, to-from)
	for _, rec := range match[from:to] { // render only the page
		items = append(items, a.renderOpLocked(rec))
	}
	a.mu.Unlock()
	a.reply(w, items, &Meta{CurrentPage: page, ItemsPerPage: per, TotalItems: len(match)})
}

// paging reads page (1-based, default 1) and itemsPerPage (default 30,
// clamped to 1000).
func paging(q url.Values) (page, per int, err error) {
	page, per = 1, defaultPerPage
	if s := q.Get("page"); s != "" {
		if page, err = strconv.Atoi(s); err != nil || page < 1 {
			return 0, 0, errors.New("page must be a positive integer")
		}
	}
	if s := q.Get("itemsPerPage"); s != "" {
		if per, err = strconv.Atoi(s); err != nil || per < 1 {
			return 0, 0, errors.New("itemsPerPage must be a positive integer")
		}
	}
	return page, min(per, maxPerPage), nil
}

// listParams reads the paging of a list request and its templateId filter
// (0 when absent), shared by GET /cards and GET /operations.
func listParams(q url.Values) (page, per, templateID int, err error) {
	if page, per, err = paging(q); err != nil {
		return 0, 0, 0, err
	}
	if s := q.Get("templateId"); s != "" {
		if templateID, err = strconv.Atoi(s); err != nil {
			return 0, 0, 0, errors.New("templateId must be an integer")
		}
	}
	return page, per, templateID, nil
}

// replyPageOf answers one page of items with its meta block.
func replyPageOf[T any](a *API, w http.ResponseWriter, items []T, page, per int) {
	from, to := pageBounds(len(items), page, per)
	data := append(make([]T, 0, to-from), items[from:to]...)
	a.reply(w, data, &Meta{CurrentPage: page, ItemsPerPage: per, TotalItems: len(items)})
}

// pageBounds returns the slice bounds of a 1-based page of total items.
func pageBounds(total, page, per int) (from, to int) {
	from = total
	if page-1 <= total/per { // no overflow for a huge page number
		from = min(total, (page-1)*per)
	}
	return from, min(total, from+per)
}
