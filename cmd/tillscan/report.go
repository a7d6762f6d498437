package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tillscan/tillscan/cmd/tillscan/control"
	"github.com/tillscan/tillscan/pos"
	"github.com/tillscan/tillscan/queue"
)

// reportCmd is `tillscan report`: every scan at this till on one day, with
// its result, and totals, for the shop owner at closing time. It reads the
// queue (which keeps finished scans for queue.retention) through the
// running daemon's local API, or the file when the daemon is stopped.
type reportCmd struct {
	queueTarget
	Date   string `help:"The day, YYYY-MM-DD, in the shop's time zone (till.time_zone, default the system's; default: today)." placeholder:"YYYY-MM-DD"`
	Format string `short:"f" enum:"text,csv,json" default:"text" help:"text (for people), csv (one row per scan, for a spreadsheet) or json (scans and totals)."`
}

func (c *reportCmd) Run(g *globals) error {
	cfg, _, err := loadOrDemo(c.Config) // cfg is nil for a running demo
	if err != nil {
		return err
	}
	loc := time.Local
	if cfg != nil {
		if loc, err = cfg.Till.Location(); err != nil { // the shop's day
			return err
		}
	}
	day, err := reportDay(c.Date, time.Now(), loc)
	if err != nil {
		return err
	}
	return withOperator(g, c.queueTarget, func(op control.Operator) error {
		// The card cache in the queue's file, read by the daemon or here.
		types, err := op.CardTypes(g.Ctx)
		if err != nil {
			// The report is still right without card types; say why they are missing.
			fmt.Fprintf(g.Stderr, "tillscan report: card types unknown: %v\n", err)
		} else if types.Omitted > 0 {
			fmt.Fprintf(g.Stderr, "tillscan report: card types unknown for %d cards (the daemon's answer is bounded)\n", types.Omitted)
		}
		r, err := collectReport(g.Ctx, op.ExportJobs, day, func(card string) string { return types.Types[card] })
		if err != nil {
			return err
		}
		return writeReport(g.Stdout, r, c.Format)
	})
}

// reportDay returns midnight at the start of the day date names in loc
// ("" is the day of now).
func reportDay(date string, now time.Time, loc *time.Location) (time.Time, error) {
	if date == "" {
		y, m, d := now.In(loc).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, loc), nil
	}
	day, err := time.ParseInLocation(time.DateOnly, date, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("report: --date %q: want YYYY-MM-DD, e.g. %s", date, now.In(loc).Format(time.DateOnly))
	}
	return day, nil
}

// The results a scan can have in the report, in the words the owner sees.
const (
	resultApplied   = "applied"
	resultRefused   = "refused"
	resultWaiting   = "waiting"
	resultUncertain = "uncertain"
	resultOperator  = "needs an operator"
	resultDropped   = "dropped"
	resultUndone    = "undone" // cancelled by TILLSCAN:UNDO before it was sent
)

// reportResult maps a job to its result in the report.
func reportResult(j queue.Job) string {
	switch s := j.State; s {
	case queue.Done:
		return resultApplied
	case queue.Refused:
		return resultRefused
	case queue.Ambiguous:
		return resultUncertain
	case queue.Dead:
		return resultOperator
	case queue.Dropped:
		if j.Reason == pos.UndoneReason {
			return resultUndone
		}
		return resultDropped
	}
	return resultWaiting // pending, sending: not answered yet
}

// dayReport is one day's report: every scan and the totals.
type dayReport struct {
	Date     string        `json:"date"`      // YYYY-MM-DD in TimeZone
	TimeZone string        `json:"time_zone"` // e.g. "Europe/London"
	Scans    []reportScan  `json:"scans"`     // oldest first
	ByAction []actionTotal `json:"by_action"` // by action method, most scans first; no action decided last
	ByResult []resultTotal `json:"by_result"` // by result, most scans first
}

// reportScan is one scan in the report.
type reportScan struct {
	Time     time.Time `json:"time"`
	Card     string    `json:"card"`
	Type     string    `json:"type,omitempty"`   // the card type, when the till has seen the card
	Action   string    `json:"action,omitempty"` // the action method, e.g. "add-stamp"; "" when none was decided
	Quantity string    `json:"quantity,omitempty"`
	Result   string    `json:"result"`
	Reason   string    `json:"reason,omitempty"`  // why refused, dropped or needing an operator
	Balance  string    `json:"balance,omitempty"` // the card's balance after an applied action
	Job      string    `json:"job"`
	Undoes   string    `json:"undoes,omitempty"` // the job this scan (TILLSCAN:UNDO) takes back
}

// actionTotal counts the scans of one action method.
type actionTotal struct {
	Action   string  `json:"action"` // "" for scans no action was decided for
	Scans    int     `json:"scans"`
	Applied  int     `json:"applied"`
	Quantity float64 `json:"quantity_applied"` // the applied quantities added up
}

// resultTotal counts the scans with one result.
type resultTotal struct {
	Result string `json:"result"`
	Scans  int    `json:"scans"`
}

// collectReport reads every job export writes (JSON lines of queue.Job, as
// queue.Export writes them) and keeps the scans made on the day starting
// at day. cardType names a card's type ("" if unknown).
func collectReport(ctx context.Context, export func(context.Context, io.Writer) error, day time.Time, cardType func(string) string) (dayReport, error) {
	from, to := day, day.AddDate(0, 0, 1) // AddDate keeps midnight across a DST change
	zone := day.Location().String()
	if zone == "Local" { // the system's: name it as the clock does
		zone = day.Format("MST")
	}
	r := dayReport{Date: day.Format(time.DateOnly), TimeZone: zone, Scans: []reportScan{}}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(export(ctx, pw)) }()
	defer pr.Close() // ends the export if decoding stops early
	dec := json.NewDecoder(pr)
	for {
		var j queue.Job
		err := dec.Decode(&j)
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return dayReport{}, fmt.Errorf("report: reading the queue: %w", err)
		}
		if j.ScannedAt.Before(from) || !j.ScannedAt.Before(to) {
			continue
		}
		method, qty, _ := strings.Cut(j.Action, " ")
		r.Scans = append(r.Scans, reportScan{Time: j.ScannedAt.In(day.Location()), Card: j.Card, Type: cardType(j.Card),
			Action: method, Quantity: qty, Result: reportResult(j), Reason: j.Reason, Balance: j.Result, Job: j.ID, Undoes: j.Undoes})
	}
	slices.SortStableFunc(r.Scans, func(a, b reportScan) int { return a.Time.Compare(b.Time) })
	r.ByAction, r.ByResult = reportTotals(r.Scans)
	return r, nil
}

// reportTotals adds the scans up per action and per result.
func reportTotals(scans []reportScan) ([]actionTotal, []resultTotal) {
	actions := map[string]*actionTotal{}
	results := map[string]*resultTotal{}
	var byAction []actionTotal
	var byResult []resultTotal
	for _, s := range scans {
		a := actions[s.Action]
		if a == nil {
			a = &actionTotal{Action: s.Action}
			actions[s.Action] = a
		}
		a.Scans++
		if s.Result == resultApplied {
			a.Applied++
			if q, err := strconv.ParseFloat(s.Quantity, 64); err == nil {
				a.Quantity += q
			}
		}
		r := results[s.Result]
		if r == nil {
			r = &resultTotal{Result: s.Result}
			results[s.Result] = r
		}
		r.Scans++
	}
	for _, a := range actions {
		byAction = append(byAction, *a)
	}
	for _, r := range results {
		byResult = append(byResult, *r)
	}
	slices.SortFunc(byAction, func(a, b actionTotal) int {
		if (a.Action == "") != (b.Action == "") { // scans with no action decided come last
			if a.Action == "" {
				return 1
			}
			return -1
		}
		if a.Scans != b.Scans {
			return b.Scans - a.Scans
		}
		return strings.Compare(a.Action, b.Action)
	})
	slices.SortFunc(byResult, func(a, b resultTotal) int {
		if a.Scans != b.Scans {
			return b.Scans - a.Scans
		}
		return strings.Compare(a.Result, b.Result)
	})
	return byAction, byResult
}

// reportCSVHeader names the CSV columns; one row per scan follows.
var reportCSVHeader = []string{"date", "time", "card", "type", "action", "quantity", "result", "reason", "balance", "job", "undoes"}

// writeReport writes r as text, csv or json.
func writeReport(w io.Writer, r dayReport, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write(reportCSVHeader)
		for _, s := range r.Scans {
			cw.Write([]string{r.Date, s.Time.Format(time.TimeOnly), s.Card, s.Type, s.Action, s.Quantity, s.Result, s.Reason, s.Balance, s.Job, s.Undoes})
		}
		cw.Flush()
		return cw.Error()
	case "text", "":
		return writeReportText(w, r)
	}
	return fmt.Errorf("report: format %q: want text, csv or json", format)
}

func writeReportText(w io.Writer, r dayReport) error {
	fmt.Fprintf(w, "Scans on %s (%s): %d\n\n", r.Date, r.TimeZone, len(r.Scans))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	if len(r.Scans) > 0 {
		fmt.Fprintln(tw, "TIME\tCARD\tTYPE\tACTION\tRESULT\tBALANCE / REASON")
	}
	for _, s := range r.Scans {
		note := s.Balance
		if s.Reason != "" {
			note = s.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Time.Format(time.TimeOnly), s.Card, orDash(s.Type),
			orDash(strings.TrimSpace(s.Action+" "+s.Quantity)), s.Result, note)
	}
	if len(r.ByAction) > 0 {
		fmt.Fprintln(tw, "\nACTION\tSCANS\tAPPLIED\tAPPLIED QUANTITY")
		for _, a := range r.ByAction {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", orDash(a.Action), a.Scans, a.Applied, strconv.FormatFloat(a.Quantity, 'f', -1, 64))
		}
		fmt.Fprintln(tw, "\nRESULT\tSCANS")
		for _, t := range r.ByResult {
			fmt.Fprintf(tw, "%s\t%d\n", t.Result, t.Scans)
		}
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
