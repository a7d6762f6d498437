package apiclient

// Query strings and path ids shared by the list and lookup endpoints.

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
)

// PageQuery selects one page of a list. Pages are 1-based; zero fields are
// not sent (the server's defaults apply).
type PageQuery struct {
	Page         int
	ItemsPerPage int
}

func pageValues(page, perPage int) url.Values {
	v := url.Values{}
	setInt(v, "page", page)
	setInt(v, "itemsPerPage", perPage)
	return v
}

func setInt(v url.Values, k string, n int) {
	if n != 0 {
		v.Set(k, strconv.Itoa(n))
	}
}

func setStr(v url.Values, k, s string) {
	if s != "" {
		v.Set(k, s)
	}
}

// plausibleID accepts the uuids and numeric ids the API uses in paths.
var plausibleID = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$`)

func validID(what, id string) error {
	if !plausibleID.MatchString(id) {
		return fmt.Errorf("apiclient: %q is not a %s id: %w", id, what, ErrRejected)
	}
	return nil
}
