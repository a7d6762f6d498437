package sandbox

// GET and POST /pushes, GET /pushes/{id}: stored, never delivered.

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

func (a *API) listPushes(w http.ResponseWriter, r *http.Request) {
	page, per, err := paging(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	a.mu.Lock()
	items := slices.Clone(a.pushes)
	a.mu.Unlock()
	replyPageOf(a, w, items, page, per)
}

func (a *API) getPush(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	a.mu.Lock()
	i := slices.IndexFunc(a.pushes, func(p Push) bool { return p.ID == id })
	var out Push
	if i >= 0 && err == nil {
		out = a.pushes[i]
	}
	a.mu.Unlock()
	a.replyFound(w, out, i >= 0 && err == nil, "Push not found")
}

// createPush serves POST /pushes {message, templateId, cardId?, scheduledAt?}.
// Nothing is delivered; the push is stored as "sent" or, with a future
// scheduledAt, "scheduled".
func (a *API) createPush(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Message     *string `json:"message"`
		TemplateID  *int    `json:"templateId"`
		CardID      *string `json:"cardId"`
		ScheduledAt *string `json:"scheduledAt"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Message == nil || *body.Message == "" || body.TemplateID == nil {
		writeError(w, http.StatusUnprocessableEntity, "message and templateId are required")
		return
	}
	now := a.now()
	status := "sent"
	if body.ScheduledAt != nil {
		at, err := time.Parse(time.RFC3339, *body.ScheduledAt)
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, "scheduledAt: want a date-time such as 2026-12-01T10:00:00+00:00")
			return
		}
		if at.After(now) {
			status = "scheduled"
		}
	}
	a.mu.Lock()
	rej := a.pushTargetLocked(*body.TemplateID, body.CardID)
	var p Push
	if rej == nil {
		recipients := 0
		for _, c := range a.cards {
			if c.templateID == *body.TemplateID && (body.CardID == nil || c.id == *body.CardID) {
				recipients++
			}
		}
		p = Push{ID: a.nextPushID, Message: *body.Message, TemplateID: *body.TemplateID, CardID: body.CardID,
			ScheduledAt: body.ScheduledAt, Status: status, Recipients: recipients, CreatedAt: fmtTime(now)}
		a.nextPushID++
		a.pushes = append(a.pushes, p)
	}
	a.mu.Unlock()
	if rej != nil {
		writeError(w, rej.status, rej.msg)
		return
	}
	a.reply(w, p, nil)
}

func (a *API) pushTargetLocked(templateID int, cardID *string) *rejection {
	if _, ok := a.templates[templateID]; !ok {
		return &rejection{http.StatusNotFound, "Template not found"}
	}
	if cardID != nil {
		c, ok := a.cards[*cardID]
		if !ok {
			return &rejection{http.StatusNotFound, "Card not found"}
		}
		if c.templateID != templateID {
			return &rejection{http.StatusUnprocessableEntity, fmt.Sprintf("card %s does not belong to template %d", c.id, templateID)}
		}
	}
	return nil
}
