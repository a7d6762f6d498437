package apiclient

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// CardType is one of the 8 kinds of loyalty card. Its numeric value is the
// template's type id in the API (0–7); its String is the name tillscan uses
// in config files and logs.
type CardType int

// The card types, numbered as the API numbers template types.
const (
	Stamp      CardType = 0
	Cashback   CardType = 1
	Multipass  CardType = 2 // the API's card "type" string calls it "subscription"
	Coupon     CardType = 3
	Discount   CardType = 4
	Gift       CardType = 5 // gift certificate
	Membership CardType = 6
	Reward     CardType = 7
)

var cardTypeNames = [...]string{"stamp", "cashback", "multipass", "coupon", "discount", "gift", "membership", "reward"}

// CardTypes lists every card type in API order.
func CardTypes() []CardType {
	return []CardType{Stamp, Cashback, Multipass, Coupon, Discount, Gift, Membership, Reward}
}

// Valid reports whether t is one of the 8 card types.
func (t CardType) Valid() bool { return t >= 0 && int(t) < len(cardTypeNames) }

func (t CardType) String() string {
	if !t.Valid() {
		return "cardtype(" + strconv.Itoa(int(t)) + ")"
	}
	return cardTypeNames[t]
}

// ParseCardType maps a name to a CardType. It accepts tillscan's names
// ("stamp" … "reward"), the API's card "type" strings (which say
// "subscription" for multipass; "certificate" and "gift_certificate" are
// accepted for gift) and the numeric ids "0" to "7".
func ParseCardType(s string) (CardType, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	switch name {
	case "subscription":
		return Multipass, nil
	case "certificate", "gift_certificate", "giftcertificate", "gift-certificate":
		return Gift, nil
	}
	for i, n := range cardTypeNames {
		if n == name {
			return CardType(i), nil
		}
	}
	if n, err := strconv.Atoi(name); err == nil && CardType(n).Valid() {
		return CardType(n), nil
	}
	return 0, fmt.Errorf("apiclient: unknown card type %q (want one of %s)", s, strings.Join(cardTypeNames[:], ", "))
}

// MarshalText encodes the type as its name.
func (t CardType) MarshalText() ([]byte, error) {
	if !t.Valid() {
		return nil, fmt.Errorf("apiclient: invalid card type %d", int(t))
	}
	return []byte(t.String()), nil
}

// UnmarshalText accepts anything ParseCardType accepts.
func (t *CardType) UnmarshalText(b []byte) error {
	v, err := ParseCardType(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// UnmarshalJSON accepts both the card's "type" string and the template's
// numeric type.
func (t *CardType) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		if !CardType(n).Valid() {
			return fmt.Errorf("apiclient: unknown card type %d", n)
		}
		*t = CardType(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("apiclient: card type is neither a number nor a string: %s", b)
	}
	return t.UnmarshalText([]byte(s))
}
