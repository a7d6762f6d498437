package pos_test

import (
	"fmt"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/pos"
)

func ExampleExtractor_Card() {
	e, _ := pos.NewExtractor("") // the default pattern
	for _, raw := range []string{
		"544256-439-856",
		"https://highlightcards.co.uk/c/?card=544256%2D439%2D856",
		"]Q1544256-439-856",
		"5012345678900",
	} {
		card, err := e.Card(raw)
		fmt.Printf("%q %v\n", card, err)
	}
	// Output:
	// "544256-439-856" <nil>
	// "544256-439-856" <nil>
	// "544256-439-856" <nil>
	// "" pos: not a loyalty card
}

func ExampleCountMarker() {
	m := pos.Marker("till-2", "104")
	fmt.Println(m)
	fmt.Println(pos.CountMarker("tillscan:till-2:104 front till", m))
	fmt.Println(pos.CountMarker("tillscan:till-2:1042", m)) // a prefix is no match
	// Output:
	// tillscan:till-2:104
	// 1
	// 0
}

func ExampleRules_Decide() {
	card := apiclient.Card{ID: "544256-439-857", Type: apiclient.Stamp, TemplateID: 2}
	r := pos.DefaultRules()
	a, _ := r.Decide(card, "", "", nil) // mechanics unknown: the rule's own action
	fmt.Println(a.Method, a.Quantity)
	a, _ = r.Decide(card, pos.MechVisits, "", nil) // learned: a visits template
	fmt.Println(a.Method, a.Quantity)
	a, _ = r.Decide(card, pos.MechVisits, pos.ModeRedeem, nil)
	fmt.Println(a.Method, a.Quantity)
	// Output:
	// add-stamp 1
	// add-visit 1
	// subtract-reward 1
}
