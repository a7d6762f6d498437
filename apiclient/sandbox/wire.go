package sandbox

import (
	"math"
	"time"
)

// The sandbox's own wire types, JSON-tagged as docs/api.md describes the
// API. They are also the seed types: fields the sandbox recomputes
// (customer, availableRewardTiers, links…) are ignored when seeding.

// phpTime is the API's date-time format, PHP "Y-m-d\TH:i:sP".
const phpTime = "2006-01-02T15:04:05-07:00"

// dayFormat is the API's date format for query filters, PHP "Y-m-d".
const dayFormat = "2006-01-02"

// Card is a loyalty card as GET /cards/{id} and every card action return it.
type Card struct {
	ID                   string                `json:"id"` // the serial, e.g. "544256-439-856"
	TemplateID           int                   `json:"templateId"`
	CompanyID            int                   `json:"companyId"`
	CustomerID           string                `json:"customerId"`
	Customer             *Customer             `json:"customer"`
	Type                 string                `json:"type"` // "stamp", "subscription" (multipass), …; see cardTypeNames
	Status               string                `json:"status"`
	Balance              Balance               `json:"balance"`
	AvailableRewardTiers []RewardTier          `json:"availableRewardTiers"`
	MembershipTier       *MembershipTier       `json:"membershipTier"`
	CustomerSubscription *CustomerSubscription `json:"customerSubscription"`
	CustomFields         []CardCustomField     `json:"customFields"`

	// Counters; null in list responses (docs/api.md, "The card").
	CountVisits                 *int    `json:"countVisits"`
	TotalRewardsEarned          *int    `json:"totalRewardsEarned"`
	TotalRewardsRedeemed        *int    `json:"totalRewardsRedeemed"`
	TotalStampsEarnedByReferral *int    `json:"totalStampsEarnedByReferral"`
	TotalPointsEarnedByReferral *int    `json:"totalPointsEarnedByReferral"`
	LastStampEarnedAt           *string `json:"lastStampEarnedAt"`
	LastRewardEarnedAt          *string `json:"lastRewardEarnedAt"`
	LastRewardRedeemedAt        *string `json:"lastRewardRedeemedAt"`

	CouponRedeemed     bool              `json:"couponRedeemed"`
	Device             *string           `json:"device"`
	ExpiresAt          *string           `json:"expiresAt"`
	FirstVisitDiscount *float64          `json:"firstVisitDiscount"`
	UTMSource          *string           `json:"utmSource"`
	CreatedAt          string            `json:"createdAt"`
	UpdatedAt          string            `json:"updatedAt"`
	InstallLink        string            `json:"installLink"`
	ShareLink          string            `json:"shareLink"`
	QRLink             string            `json:"qrLink"`
	DirectInstallLink  DirectInstallLink `json:"directInstallLink"`
}

// Balance is a card's balance block. The API declares every field a
// nullable number; the sandbox always sends numbers (0 when unused), which
// decodes the same way. Meanings per card type (assumed: docs/api.md, "The
// card"):
//   - stamp: CurrentNumberOfUses = stamps held, NumberStampsTotal = stamps per
//     reward, StampsBeforeReward = stamps still missing, NumberRewardsUnused =
//     rewards ready;
//   - reward: BonusBalance = points;
//   - cashback: Balance = money, BonusBalance = points;
//   - discount: DiscountPercentage, DiscountAmount (BonusBalance = points);
//   - gift: BonusBalance = points (the certificate's value);
//   - multipass: CurrentNumberOfUses = visits available, BonusBalance = points;
//   - membership: CurrentNumberOfUses = visits left in the current limit
//     period (INVENTED: the notes do not say).
type Balance struct {
	Balance             float64 `json:"balance"`
	BonusBalance        float64 `json:"bonusBalance"`
	CurrentNumberOfUses float64 `json:"currentNumberOfUses"`
	DiscountAmount      float64 `json:"discountAmount"`
	DiscountPercentage  float64 `json:"discountPercentage"`
	NumberRewardsUnused float64 `json:"numberRewardsUnused"`
	NumberStampsTotal   float64 `json:"numberStampsTotal"`
	StampsBeforeReward  float64 `json:"stampsBeforeReward"`
}

// DirectInstallLink is the set of per-platform install links of a card.
type DirectInstallLink struct {
	Universal string `json:"universal"`
	Apple     string `json:"apple"`
	Google    string `json:"google"`
	PWA       string `json:"pwa"`
}

// RewardTier is a reward of a Reward template, received with
// POST /cards/{id}/receive-reward {"id": tierId}.
type RewardTier struct {
	ID         int      `json:"id"`
	TemplateID int      `json:"templateId"`
	Type       int      `json:"type"` // 0 custom, 1 amount, 2 percent
	Name       string   `json:"name"`
	Threshold  float64  `json:"threshold"` // points the tier costs
	Value      float64  `json:"value"`
	ValueLimit *float64 `json:"valueLimit"`
	UsageLimit *float64 `json:"usageLimit"`
}

// MembershipTier is a tier of a Membership template; its parameter blocks
// carry the visit limits.
type MembershipTier struct {
	ID                int             `json:"id"`
	TemplateID        int             `json:"templateId"`
	Name              string          `json:"name"`
	Description       string          `json:"description"`
	Benefits          []string        `json:"benefits"`
	DailyParameters   *TierParameters `json:"dailyParameters"`
	WeeklyParameters  *TierParameters `json:"weeklyParameters"`
	MonthlyParameters *TierParameters `json:"monthlyParameters"`
	YearlyParameters  *TierParameters `json:"yearlyParameters"`
}

// TierParameters is one period of a membership tier: when Active, at most
// Limit visits per period.
type TierParameters struct {
	Active         bool     `json:"active"`
	Limit          *int     `json:"limit"`
	PerFilialLimit *int     `json:"perFilialLimit"`
	Price          *float64 `json:"price"`
	Recommended    bool     `json:"recommended"`
}

// CustomerSubscription is a membership card's subscription, set by
// POST /cards/{id}/set-membership-tier.
type CustomerSubscription struct {
	ID               int     `json:"id"`
	CardID           int     `json:"cardId"`
	CustomerID       string  `json:"customerId"`
	TemplateID       int     `json:"templateId"`
	Period           string  `json:"period"`
	Status           int     `json:"status"`
	Balance          float64 `json:"balance"`
	MembershipTierID int     `json:"membershipTierId"`
	ProviderID       *int    `json:"providerId"`
	ExternalID       *string `json:"externalId"`
	CreatedAt        int64   `json:"createdAt"` // epoch seconds (INFERRED by the notes)
	UpdatedAt        int64   `json:"updatedAt"`
	ExpiredAt        *int64  `json:"expiredAt"`
}

// CardCustomField is a custom field's value on a card.
type CardCustomField struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	Order    int    `json:"order"`
	Value    string `json:"value"`
	Required bool   `json:"required"`
	Unique   bool   `json:"unique"`
}

// CustomField is a custom field declared by a template.
type CustomField struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	Type     string `json:"type"` // e.g. "text", "date"
	Order    int    `json:"order"`
	Required bool   `json:"required"`
	Unique   bool   `json:"unique"`
}

// Segment is a customer segment.
type Segment struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	Type int    `json:"type"`
}

// Customer is a card holder. The API sends null for unset strings; the
// sandbox sends "" (decodes the same way into a Go string).
type Customer struct {
	ID             string    `json:"id"` // uuid
	FirstName      string    `json:"firstName"`
	Surname        string    `json:"surname"`
	Email          string    `json:"email"`
	Phone          string    `json:"phone"`
	Gender         int       `json:"gender"` // 0 unknown, 1 male, 2 female
	DateOfBirth    string    `json:"dateOfBirth"`
	ExternalUserID string    `json:"externalUserId"`
	Segments       []Segment `json:"segments"`
	CreatedAt      string    `json:"createdAt"`
	UpdatedAt      string    `json:"updatedAt"`
}

// Template is a card design. The fields after RewardTiers are sandbox-only
// seed settings: the real API does not expose mechanics, stamp counts or
// rates (docs/api.md, "Card types"), so they are never sent on the wire.
type Template struct {
	ID              int              `json:"id"`
	CompanyID       int              `json:"companyId"`
	CreatedAt       string           `json:"createdAt"`
	UpdatedAt       string           `json:"updatedAt"`
	Name            string           `json:"name"`
	Type            int              `json:"type"` // 0 stamp … 7 reward
	InstallLink     string           `json:"installLink"`
	QRLink          string           `json:"qrLink"`
	CustomFields    []CustomField    `json:"customFields"`
	MembershipTiers []MembershipTier `json:"membershipTiers"`
	RewardTiers     []RewardTier     `json:"rewardTiers"`

	// Mechanics of a Stamp or Reward template: "stamps" (stamp only) or
	// "points" (reward only), "visits" or "spend". Empty means "stamps" for
	// a stamp template and "points" for a reward template.
	Mechanics string `json:"mechanics,omitempty"`
	// StampsPerReward of a stamp template; 0 means 10.
	StampsPerReward int `json:"stampsPerReward,omitempty"`
	// VisitsPerDay limits add-visit on a visits-mechanics stamp or reward
	// template; 0 means no limit.
	VisitsPerDay int `json:"visitsPerDay,omitempty"`
	// SpendPerStamp is the purchase amount that earns one stamp (spend
	// mechanics); 0 means 10.
	SpendPerStamp float64 `json:"spendPerStamp,omitempty"`
	// PointsPerVisit (reward, visits mechanics); 0 means 10.
	PointsPerVisit float64 `json:"pointsPerVisit,omitempty"`
	// PointsPerUnit is points per unit of money spent (reward, spend
	// mechanics); 0 means 1.
	PointsPerUnit float64 `json:"pointsPerUnit,omitempty"`
	// CashbackPercent credited by add-transaction-amount; 0 means 5.
	CashbackPercent float64 `json:"cashbackPercent,omitempty"`
}

// Operation is one item of GET /operations: an action applied to a card.
type Operation struct {
	ID          int64     `json:"id"`
	CardID      string    `json:"cardId"`
	TemplateID  int       `json:"templateId"`
	CompanyID   int       `json:"companyId"`
	CustomerID  string    `json:"customerId"`
	Customer    *Customer `json:"customer"`
	EventID     int       `json:"eventId"` // see the event table in operations.go (INVENTED)
	Amount      float64   `json:"amount"`  // negative for subtractions (the real sign is UNKNOWN)
	Balance     float64   `json:"balance"` // the balance the action changed, after it
	PurchaseSum *float64  `json:"purchaseSum"`
	Source      string    `json:"source"` // always "api" here
	Comment     *string   `json:"comment"`
	CardDevice  *string   `json:"cardDevice"`
	LocationID  *int      `json:"locationId"`
	ManagerID   *int      `json:"managerId"`
	CreatedAt   string    `json:"createdAt"`
	UpdatedAt   string    `json:"updatedAt"`
}

// Push is a push notification (GET/POST /pushes). The notes give only the
// request fields; the answer's shape is INVENTED from them.
type Push struct {
	ID          int     `json:"id"`
	Message     string  `json:"message"`
	TemplateID  int     `json:"templateId"`
	CardID      *string `json:"cardId"`
	ScheduledAt *string `json:"scheduledAt"`
	Status      string  `json:"status"` // "sent" or "scheduled"
	Recipients  int     `json:"recipients"`
	CreatedAt   string  `json:"createdAt"`
}

// Meta is the paging block of a list answer; pages are 1-based.
type Meta struct {
	CurrentPage  int `json:"currentPage"`
	ItemsPerPage int `json:"itemsPerPage"`
	TotalItems   int `json:"totalItems"`
}

// envelope wraps every successful answer.
type envelope struct {
	ResponseID string `json:"responseId"`
	CreatedAt  string `json:"createdAt"`
	Code       int    `json:"code"`
	Data       any    `json:"data"`
	Meta       *Meta  `json:"meta,omitempty"`
}

// apiError is the body of every error answer: {"code": status, "message": …}.
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// cardTypeNames are the card "type" strings by template type 0–7. stamp,
// cashback, subscription (multipass), discount and reward are observed
// (docs/api.md, "Card types"); coupon, gift and membership are INFERRED.
var cardTypeNames = [...]string{"stamp", "cashback", "subscription", "coupon", "discount", "gift", "membership", "reward"}

// Template types, numbered as the API numbers them.
const (
	typeStamp      = 0
	typeCashback   = 1
	typeMultipass  = 2
	typeCoupon     = 3
	typeDiscount   = 4
	typeGift       = 5
	typeMembership = 6
	typeReward     = 7
)

func ptr[T any](v T) *T { return &v }

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// fmtTime formats t as the API does (PHP "Y-m-d\TH:i:sP", UTC "+00:00").
func fmtTime(t time.Time) string { return t.UTC().Format(phpTime) }

func fmtTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	return ptr(fmtTime(*t))
}
