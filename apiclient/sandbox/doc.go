// Package sandbox is an in-process fake of the Highlight Cards API v2 that
// the client tests, the pos tests, the benchmarks and `tillscan demo` run
// against, because the real API cannot be reached from here.
//
// It owns: an http.Handler (*API) serving the paths and JSON shapes of
// shared/notes/api.md under /api/v2; the state of cards of all 8 types,
// customers, templates, pushes and the operations log, guarded by one mutex;
// the per-key rate limit (429); fault knobs (latency, 5xx, "applied then the
// connection dropped", outages, slow bodies); and seed data (a built-in demo
// set, or a strict YAML/JSON file).
//
// It keeps its own wire types and deliberately does not import package
// apiclient, so a mistake shared by the client and the fake cannot make the
// tests pass. Where the notes mark a behaviour UNKNOWN the sandbox picks one
// and a comment at that spot says it is invented.
//
// An *API and a *Server are safe for concurrent use.
package sandbox
