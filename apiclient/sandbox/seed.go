package sandbox

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/tillscan/tillscan/configs/safeyaml"
)

// Seed is the initial data of an API, from DemoSeed or a YAML/JSON file
// (configs/sandbox-seed.yaml is an example). Cards use the wire Card shape;
// fields the sandbox derives (customer, availableRewardTiers, links,
// companyId) are recomputed, and a card's membershipTier needs only its id.
type Seed struct {
	Templates []Template `json:"templates"`
	Customers []Customer `json:"customers"`
	Cards     []Card     `json:"cards"`
}

// maxSeedFile bounds LoadSeed's input.
const maxSeedFile = 16 << 20

// LoadSeed reads a seed file: .yaml/.yml (goccy/go-yaml, strict) or .json.
// Unknown keys are errors; decoding errors name file:line:column. The seed is
// also checked for consistency (ids, references, mechanics).
func LoadSeed(path string) (*Seed, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sandbox: seed: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSeedFile+1))
	if err != nil {
		return nil, fmt.Errorf("sandbox: seed: read %s: %w", path, err)
	}
	if len(data) > maxSeedFile {
		return nil, fmt.Errorf("sandbox: seed %s: larger than %d bytes", path, maxSeedFile)
	}
	var s Seed
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		err = decodeYAML(path, data, &s)
	case ".json":
		err = decodeJSON(path, data, &s)
	default:
		return nil, fmt.Errorf("sandbox: seed %s: unknown extension (want .yaml, .yml or .json)", path)
	}
	if err != nil {
		return nil, err
	}
	if _, err := build(&s, time.Now()); err != nil {
		return nil, fmt.Errorf("sandbox: seed %s: %w", path, err)
	}
	return &s, nil
}

func decodeYAML(path string, data []byte, s *Seed) error {
	// Bounded: a small hostile seed must not run the sandbox out of memory.
	err := safeyaml.Limits{MaxBytes: maxSeedFile}.Unmarshal(data, s, yaml.Strict(), yaml.DisallowUnknownField())
	if err == nil {
		return nil
	}
	if ye, ok := errors.AsType[yaml.Error](err); ok && ye.GetToken() != nil {
		p := ye.GetToken().Position
		return fmt.Errorf("sandbox: seed %s:%d:%d: %s", path, p.Line, p.Column, ye.GetMessage())
	}
	return fmt.Errorf("sandbox: seed %s: %w", path, err)
}

// decodeJSON checks that data is JSON (encoding/json, so YAML-only syntax
// is refused), then decodes it with the strict YAML decoder, of which JSON
// is a subset, to get line:column for unknown keys and type errors.
func decodeJSON(path string, data []byte, s *Seed) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		var off int64
		if se, ok := errors.AsType[*json.SyntaxError](err); ok {
			off = se.Offset
		}
		line, col := lineCol(data, off)
		return fmt.Errorf("sandbox: seed %s:%d:%d: %s", path, line, col, strings.TrimPrefix(err.Error(), "json: "))
	}
	return decodeYAML(path, data, s)
}

// lineCol converts a byte offset into a 1-based line and column.
func lineCol(data []byte, off int64) (int, int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	return line, int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
}

// cardNumber is the API's serial format (docs/api.md, "Card actions").
var cardNumber = regexp.MustCompile(`^\d{5,6}-\d{3}-\d{3}$`)

// state is what a seed builds.
type state struct {
	templates map[int]*Template
	customers map[string]*Customer
	cards     map[string]*cardState
}

func (a *API) load(s *Seed) error {
	st, err := build(s, a.now())
	if err != nil {
		return fmt.Errorf("sandbox: seed: %w", err)
	}
	a.templates, a.customers, a.cards = st.templates, st.customers, st.cards
	return nil
}

// build checks a seed and turns it into state; it never keeps references
// into s.
func build(s *Seed, now time.Time) (*state, error) {
	st := &state{templates: map[int]*Template{}, customers: map[string]*Customer{}, cards: map[string]*cardState{}}
	ts := fmtTime(now)
	for i, t := range s.Templates {
		where := fmt.Sprintf("templates[%d] (id %d)", i, t.ID)
		if err := checkTemplate(t); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if _, dup := st.templates[t.ID]; dup {
			return nil, fmt.Errorf("%s: duplicate template id", where)
		}
		c := wireTemplate(&t) // deep copy of the wire part
		c.Mechanics, c.StampsPerReward, c.VisitsPerDay = t.Mechanics, t.StampsPerReward, t.VisitsPerDay
		c.SpendPerStamp, c.PointsPerVisit, c.PointsPerUnit, c.CashbackPercent = t.SpendPerStamp, t.PointsPerVisit, t.PointsPerUnit, t.CashbackPercent
		c.CreatedAt, c.UpdatedAt = cmp.Or(t.CreatedAt, ts), cmp.Or(t.UpdatedAt, ts)
		link := fmt.Sprintf("https://sandbox.highlightcards.invalid/t/%d", t.ID)
		c.InstallLink, c.QRLink = cmp.Or(t.InstallLink, link), cmp.Or(t.QRLink, link+"/qr.png")
		for j := range c.RewardTiers {
			c.RewardTiers[j].TemplateID = t.ID
		}
		for j := range c.MembershipTiers {
			c.MembershipTiers[j].TemplateID = t.ID
		}
		st.templates[t.ID] = &c
	}
	for i, cu := range s.Customers {
		where := fmt.Sprintf("customers[%d] (id %q)", i, cu.ID)
		switch {
		case cu.ID == "":
			return nil, fmt.Errorf("%s: id is required (a uuid)", where)
		case cu.FirstName == "":
			return nil, fmt.Errorf("%s: firstName is required", where)
		case cu.Gender < 0 || cu.Gender > 2:
			return nil, fmt.Errorf("%s: gender %d: want 0, 1 or 2", where, cu.Gender)
		}
		if _, dup := st.customers[cu.ID]; dup {
			return nil, fmt.Errorf("%s: duplicate customer id", where)
		}
		c := cu
		c.Segments = slices.Clone(cu.Segments)
		if c.Segments == nil {
			c.Segments = []Segment{}
		}
		c.CreatedAt, c.UpdatedAt = cmp.Or(cu.CreatedAt, ts), cmp.Or(cu.UpdatedAt, ts)
		st.customers[c.ID] = &c
	}
	for i, sc := range s.Cards {
		where := fmt.Sprintf("cards[%d] (%s)", i, sc.ID)
		c, err := seedCard(st, sc, now)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if _, dup := st.cards[c.id]; dup {
			return nil, fmt.Errorf("%s: duplicate card number", where)
		}
		st.cards[c.id] = c
	}
	return st, nil
}

var validMechanics = map[int][]string{
	typeStamp:  {"", "stamps", "visits", "spend"},
	typeReward: {"", "points", "visits", "spend"},
}

func checkTemplate(t Template) error {
	switch {
	case t.ID <= 0:
		return errors.New("id must be a positive integer")
	case t.Type < 0 || t.Type >= len(cardTypeNames):
		return fmt.Errorf("type %d: want 0 (stamp) … 7 (reward)", t.Type)
	case t.Name == "":
		return errors.New("name is required")
	case !slices.Contains(cmpOrSlice(validMechanics[t.Type], []string{""}), t.Mechanics):
		return fmt.Errorf("mechanics %q does not apply to a %s template (want one of %q)",
			t.Mechanics, cardTypeNames[t.Type], cmpOrSlice(validMechanics[t.Type], []string{""}))
	case t.StampsPerReward < 0 || t.VisitsPerDay < 0 || t.SpendPerStamp < 0 || t.PointsPerVisit < 0 ||
		t.PointsPerUnit < 0 || t.CashbackPercent < 0:
		return errors.New("sandbox settings must not be negative")
	}
	seen := map[int]bool{}
	for _, rt := range t.RewardTiers {
		if rt.ID <= 0 || seen[rt.ID] {
			return fmt.Errorf("reward tier id %d: must be positive and unique", rt.ID)
		}
		seen[rt.ID] = true
	}
	clear(seen)
	for _, mt := range t.MembershipTiers {
		if mt.ID <= 0 || seen[mt.ID] {
			return fmt.Errorf("membership tier id %d: must be positive and unique", mt.ID)
		}
		seen[mt.ID] = true
		for _, p := range tierPeriods(&mt) {
			if *p.params.Limit < 0 {
				return fmt.Errorf("membership tier %d: %s limit must not be negative", mt.ID, p.period)
			}
		}
	}
	return nil
}

func seedCard(st *state, sc Card, now time.Time) (*cardState, error) {
	if !cardNumber.MatchString(sc.ID) {
		return nil, fmt.Errorf("id %q: want the API's NNNNNN-NNN-NNN form, e.g. 544256-439-856", sc.ID)
	}
	t, ok := st.templates[sc.TemplateID]
	if !ok {
		return nil, fmt.Errorf("templateId %d: no such template", sc.TemplateID)
	}
	if sc.Type != "" && sc.Type != cardTypeNames[t.Type] {
		return nil, fmt.Errorf("type %q: template %d makes %q cards", sc.Type, t.ID, cardTypeNames[t.Type])
	}
	if _, ok := st.customers[sc.CustomerID]; sc.CustomerID != "" && !ok {
		return nil, fmt.Errorf("customerId %q: no such customer", sc.CustomerID)
	}
	c := &cardState{
		id: sc.ID, templateID: t.ID, customerID: sc.CustomerID, status: cmp.Or(sc.Status, "installed"),
		bal: sc.Balance, couponRedeemed: sc.CouponRedeemed, custom: map[int]string{},
		createdAt: now, updatedAt: now,
	}
	for name, v := range map[string]float64{
		"balance": sc.Balance.Balance, "bonusBalance": sc.Balance.BonusBalance,
		"currentNumberOfUses": sc.Balance.CurrentNumberOfUses, "numberRewardsUnused": sc.Balance.NumberRewardsUnused,
	} {
		if v < 0 {
			return nil, fmt.Errorf("balance.%s %v must not be negative", name, v)
		}
	}
	if t.Type == typeStamp && int(sc.Balance.CurrentNumberOfUses) >= stampsPerReward(t) {
		return nil, fmt.Errorf("balance.currentNumberOfUses %v: a %d-stamp card holds at most %d stamps",
			sc.Balance.CurrentNumberOfUses, stampsPerReward(t), stampsPerReward(t)-1)
	}
	var err error
	parse := func(field string, s *string) *time.Time {
		if s == nil || err != nil {
			return nil
		}
		v, perr := time.Parse(phpTime, *s)
		if perr != nil {
			err = fmt.Errorf("%s %q: want Y-m-dTH:i:sP, e.g. 2026-11-25T09:30:00+00:00", field, *s)
			return nil
		}
		return &v
	}
	c.expiresAt = parse("expiresAt", sc.ExpiresAt)
	c.lastStamp = parse("lastStampEarnedAt", sc.LastStampEarnedAt)
	c.lastReward = parse("lastRewardEarnedAt", sc.LastRewardEarnedAt)
	c.lastRedeem = parse("lastRewardRedeemedAt", sc.LastRewardRedeemedAt)
	if at := parse("createdAt", nonEmpty(sc.CreatedAt)); at != nil {
		c.createdAt, c.updatedAt = *at, *at
	}
	if at := parse("updatedAt", nonEmpty(sc.UpdatedAt)); at != nil {
		c.updatedAt = *at
	}
	if err != nil {
		return nil, err
	}
	for _, n := range []*int{sc.CountVisits, sc.TotalRewardsEarned, sc.TotalRewardsRedeemed} {
		if n != nil && *n < 0 {
			return nil, errors.New("counters must not be negative")
		}
	}
	c.countVisits, c.rewardsEarned, c.rewardsRedeem = deref(sc.CountVisits), deref(sc.TotalRewardsEarned), deref(sc.TotalRewardsRedeemed)
	if sc.MembershipTier != nil {
		if t.Type != typeMembership || tierByID(t, sc.MembershipTier.ID) == nil {
			return nil, fmt.Errorf("membershipTier %d: not a tier of template %d", sc.MembershipTier.ID, t.ID)
		}
		c.tierID = sc.MembershipTier.ID
	}
	if sc.CustomerSubscription != nil {
		c.period = sc.CustomerSubscription.Period
	}
	for _, f := range sc.CustomFields {
		if msg := setCustomFields(c, t, []cardCustomFieldValue{{ID: f.ID, Value: f.Value}}); msg != "" {
			return nil, errors.New(msg)
		}
	}
	initBalance(c, t)
	return c, nil
}

func cmpOrSlice[T any](v, def []T) []T {
	if len(v) == 0 {
		return def
	}
	return v
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref[T any](p *T) T {
	var zero T
	if p != nil {
		zero = *p
	}
	return zero
}
