package apiclient

// The API's objects as they come in an answer's data (see docs/api.md).

// Card is a loyalty card as GET /cards/{number} and every card action return
// it. Fields the API may send as null are pointers or zero values.
type Card struct {
	ID                   string        `json:"id"` // the serial, e.g. "544256-439-856"
	TemplateID           int           `json:"templateId"`
	CompanyID            int           `json:"companyId"`
	CustomerID           string        `json:"customerId"`
	Customer             *Customer     `json:"customer,omitempty"`
	Type                 CardType      `json:"type"` // the API sends a string ("stamp", "subscription", …)
	Status               string        `json:"status"`
	Balance              Balance       `json:"balance"`
	AvailableRewardTiers []RewardTier  `json:"availableRewardTiers"`
	CouponRedeemed       bool          `json:"couponRedeemed"`
	CountVisits          *int          `json:"countVisits"`
	CustomFields         []CustomField `json:"customFields"`
	ExpiresAt            string        `json:"expiresAt"`
	CreatedAt            string        `json:"createdAt"`
	UpdatedAt            string        `json:"updatedAt"`
}

// Balance is a card's balance block. Which fields mean what depends on the
// card type (assumed; docs/api.md, "The card"): for a stamp card CurrentNumberOfUses is the
// stamps held and NumberStampsTotal the stamps per reward.
type Balance struct {
	Balance             *float64 `json:"balance"`
	BonusBalance        *float64 `json:"bonusBalance"`
	CurrentNumberOfUses *float64 `json:"currentNumberOfUses"`
	DiscountAmount      *float64 `json:"discountAmount"`
	DiscountPercentage  *float64 `json:"discountPercentage"`
	NumberRewardsUnused *float64 `json:"numberRewardsUnused"`
	NumberStampsTotal   *float64 `json:"numberStampsTotal"`
	StampsBeforeReward  *float64 `json:"stampsBeforeReward"`
}

// RewardTier is a reward a Reward card can receive with receive-reward.
type RewardTier struct {
	ID         int      `json:"id"`
	TemplateID int      `json:"templateId"`
	Type       int      `json:"type"` // 0 custom, 1 amount, 2 percent
	Name       string   `json:"name"`
	Threshold  *float64 `json:"threshold"`
	Value      *float64 `json:"value"`
	ValueLimit *float64 `json:"valueLimit"`
	UsageLimit *float64 `json:"usageLimit"`
}

// Customer is a card holder.
type Customer struct {
	ID             string `json:"id,omitempty"`
	FirstName      string `json:"firstName,omitempty"`
	Surname        string `json:"surname,omitempty"`
	Email          string `json:"email,omitempty"`
	Phone          string `json:"phone,omitempty"`
	Gender         int    `json:"gender,omitempty"` // 0 unknown, 1 male, 2 female
	DateOfBirth    string `json:"dateOfBirth,omitempty"`
	ExternalUserID string `json:"externalUserId,omitempty"`
	CreatedAt      string `json:"createdAt,omitempty"`
	UpdatedAt      string `json:"updatedAt,omitempty"`
}

// Template is a card design; every card belongs to one.
type Template struct {
	ID          int          `json:"id"`
	CompanyID   int          `json:"companyId"`
	Name        string       `json:"name"`
	Type        CardType     `json:"type"` // numeric 0–7 on the wire
	RewardTiers []RewardTier `json:"rewardTiers"`
	CreatedAt   string       `json:"createdAt"`
	UpdatedAt   string       `json:"updatedAt"`
}

// Operation is one entry of GET /operations: an action applied to a card.
type Operation struct {
	ID          int64    `json:"id"`
	CardID      string   `json:"cardId"`
	TemplateID  int      `json:"templateId"`
	CompanyID   int      `json:"companyId"`
	CustomerID  string   `json:"customerId"`
	EventID     int      `json:"eventId"` // operation type; the code table is undocumented
	Amount      float64  `json:"amount"`
	Balance     *float64 `json:"balance"`
	PurchaseSum *float64 `json:"purchaseSum"`
	Source      string   `json:"source"`
	Comment     *string  `json:"comment"`
	CreatedAt   string   `json:"createdAt"`
}

// Meta is the paging block of a list answer. Pages are 1-based.
type Meta struct {
	CurrentPage  int `json:"currentPage"`
	ItemsPerPage int `json:"itemsPerPage"`
	TotalItems   int `json:"totalItems"`
}
