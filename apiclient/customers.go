package apiclient

// The customer endpoints: GET, POST, PATCH and DELETE of /customers.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// ListCustomers returns one page of GET /customers, optionally filtered by
// email or phone.
func (c *Client) ListCustomers(ctx context.Context, q CustomersQuery) ([]Customer, Meta, error) {
	v := pageValues(q.Page, q.ItemsPerPage)
	setStr(v, "email", q.Email)
	setStr(v, "phone", q.Phone)
	var out []Customer
	var meta Meta
	if err := c.do(ctx, &call{op: "list customers", method: http.MethodGet, path: "/customers", query: v, out: &out, meta: &meta}); err != nil {
		return nil, Meta{}, err
	}
	return out, meta, nil
}

// CustomersQuery filters GET /customers. Zero fields are not sent.
type CustomersQuery struct {
	Page         int
	ItemsPerPage int
	Email        string
	Phone        string
}

// GetCustomer returns one customer (GET /customers/{id}).
func (c *Client) GetCustomer(ctx context.Context, id string) (*Customer, error) {
	if err := validID("customer", id); err != nil {
		return nil, err
	}
	var out Customer
	if err := c.do(ctx, &call{op: "get customer " + id, method: http.MethodGet, path: "/customers/" + url.PathEscape(id), out: &out, needData: true}); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateCustomer creates a customer (POST /customers); FirstName is
// required, ID and the timestamps are ignored.
func (c *Client) CreateCustomer(ctx context.Context, cu Customer) (*Customer, error) {
	if cu.FirstName == "" {
		return nil, fmt.Errorf("apiclient: create customer: first name is required: %w", ErrRejected)
	}
	body := cu
	body.ID, body.CreatedAt, body.UpdatedAt = "", "", ""
	var out Customer
	if err := c.do(ctx, &call{op: "create customer", method: http.MethodPost, path: "/customers", body: body, out: &out, needData: true}); err != nil {
		return nil, err
	}
	return &out, nil
}

// customerUpdate is the body of PATCH /customers/{id}: the API's update
// schema repeats the id and has no phone (docs/api.md), so Phone is not
// sent.
type customerUpdate struct {
	ID             string `json:"id"`
	FirstName      string `json:"firstName,omitempty"`
	Surname        string `json:"surname,omitempty"`
	Email          string `json:"email,omitempty"`
	Gender         int    `json:"gender,omitempty"`
	DateOfBirth    string `json:"dateOfBirth,omitempty"`
	ExternalUserID string `json:"externalUserId,omitempty"`
}

// UpdateCustomer changes the non-empty fields of customer cu.ID
// (PATCH /customers/{id}). The API cannot change a phone number this way.
func (c *Client) UpdateCustomer(ctx context.Context, cu Customer) (*Customer, error) {
	if err := validID("customer", cu.ID); err != nil {
		return nil, err
	}
	body := customerUpdate{ID: cu.ID, FirstName: cu.FirstName, Surname: cu.Surname, Email: cu.Email,
		Gender: cu.Gender, DateOfBirth: cu.DateOfBirth, ExternalUserID: cu.ExternalUserID}
	var out Customer
	if err := c.do(ctx, &call{op: "update customer " + cu.ID, method: http.MethodPatch, path: "/customers/" + url.PathEscape(cu.ID), body: body, out: &out, needData: true}); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteCustomer deletes a customer (DELETE /customers/{id}).
func (c *Client) DeleteCustomer(ctx context.Context, id string) error {
	if err := validID("customer", id); err != nil {
		return err
	}
	return c.do(ctx, &call{op: "delete customer " + id, method: http.MethodDelete, path: "/customers/" + url.PathEscape(id)})
}
