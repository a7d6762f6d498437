package queue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/oklog/ulid/v2"
)

// errBadRecord marks a job record the queue cannot use: it does not decode,
// or decodes to something no transition could have written. Such a record is
// quarantined (see quarantine.go), never handed out and never allowed to
// stop the worker or hold another card.
var errBadRecord = errors.New("damaged job record")

// decodeJob decodes the record v stored under key and checks what every
// record the queue writes satisfies: exactly one JSON object of Job's known
// fields, an id that is a ULID and equals its key, a known state, and a scan
// Enqueue would accept. Errors wrap errBadRecord.
func decodeJob(key, v []byte) (Job, error) {
	var j Job
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.DisallowUnknownFields() // a damaged field name must not silently zero a field
	if err := dec.Decode(&j); err != nil {
		return Job{}, fmt.Errorf("%w: undecodable: %v", errBadRecord, err)
	}
	if rest := dec.InputOffset(); rest != int64(len(v)) {
		return Job{}, fmt.Errorf("%w: undecodable: %d stray bytes after the record", errBadRecord, int64(len(v))-rest)
	}
	if _, err := ulid.ParseStrict(j.ID); err != nil {
		return Job{}, fmt.Errorf("%w: id %.40q is not a job id: %v", errBadRecord, j.ID, err)
	}
	if j.ID != string(key) {
		return Job{}, fmt.Errorf("%w: stored under key %.40q but its id is %s", errBadRecord, key, j.ID)
	}
	if !j.State.valid() {
		return Job{}, fmt.Errorf("%w: unknown state %.20q", errBadRecord, j.State)
	}
	if err := checkScan(j.Scan); err != nil {
		return Job{}, fmt.Errorf("%w: %v", errBadRecord, err)
	}
	return j, nil
}
