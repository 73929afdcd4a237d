// Package haproxy talks to HAProxy's runtime API (the stats socket): one command per connection, and
// the servers' rows of `show stat`, which the lab polls to see when an instance leaves or enters
// rotation and how long HAProxy's own health checks take.
package haproxy

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Command sends one runtime API command and returns HAProxy's whole answer (the socket is in
// non-interactive mode: HAProxy closes it after answering).
func Command(socket, cmd string) (string, error) {
	c, err := net.DialTimeout("unix", socket, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// Server is one server's row of `show stat`.
type Server struct {
	Backend string
	Name    string
	// Status: UP, DOWN, MAINT, DRAIN, NOLB, or a transition such as "UP 1/2" (one check failed, a
	// second one takes it down) and "DOWN 1/2" (one check passed, a second one brings it up).
	Status      string
	CheckStatus string // L7OK, L7STS (wrong status), L4CON (refused), L4TOUT, L7TOUT (timeout)...
	CheckCode   string // the HTTP status of the last check, when there was one
	CheckMS     int    // how long the last check took, in milliseconds (-1: none yet)
	ChkFail     int    // failed checks so far
	ChkDown     int    // UP -> DOWN transitions so far
	Weight      int    // 0: no new requests whatever the status (how the lab holds a new server back)
}

// State is the status as the lab's timeline shows it: with " (weight 0)" while the weight holds the
// server out of rotation.
func (s Server) State() string {
	if s.Weight == 0 && s.Status != "MAINT" {
		return s.Status + " (weight 0)"
	}
	return s.Status
}

// InRotation says whether a server in this State gets new requests: UP, including "UP 1/2" (one
// failed check is not enough to pull it), with a weight.
func InRotation(state string) bool {
	return (state == "UP" || strings.HasPrefix(state, "UP ")) && !strings.HasSuffix(state, "(weight 0)")
}

// ParseStat reads the CSV of `show stat` and returns its server rows (not FRONTEND/BACKEND).
func ParseStat(text string) ([]Server, error) {
	text = strings.TrimPrefix(strings.TrimSpace(text), "# ")
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("show stat: %w", err)
	}
	if len(rows) == 0 {
		return nil, errors.New("show stat: empty answer")
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, h := range []string{"pxname", "svname", "status", "check_status", "check_code", "check_duration", "chkfail", "chkdown", "weight"} {
		if _, ok := col[h]; !ok {
			return nil, fmt.Errorf("show stat: no %q column (answer starts %q)", h, firstLine(text))
		}
	}
	get := func(row []string, h string) string {
		if i := col[h]; i < len(row) {
			return row[i]
		}
		return ""
	}
	num := func(row []string, h string) int {
		n, err := strconv.Atoi(get(row, h))
		if err != nil {
			return -1
		}
		return n
	}
	var out []Server
	for _, row := range rows[1:] {
		name := get(row, "svname")
		if name == "FRONTEND" || name == "BACKEND" || name == "" {
			continue
		}
		out = append(out, Server{
			Backend: get(row, "pxname"), Name: name, Status: get(row, "status"),
			CheckStatus: strings.TrimPrefix(get(row, "check_status"), "* "), CheckCode: get(row, "check_code"),
			CheckMS: num(row, "check_duration"), ChkFail: num(row, "chkfail"), ChkDown: num(row, "chkdown"),
			Weight: num(row, "weight"),
		})
	}
	return out, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
