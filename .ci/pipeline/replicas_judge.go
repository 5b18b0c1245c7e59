package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"sort"
	"sync"
)

// replicaCounts is what the replica mode observed.
type replicaCounts struct {
	mu       sync.Mutex
	Statuses map[string]int `json:"statuses"`
	known202 []string
	known503 []string
	unknown  []string
	// committedBehind503 counts changes answered 503 that had committed,
	// found when their retry got 403 and the attempt's new password worked.
	committedBehind503 int
}

func (c *replicaCounts) add(status string) {
	c.mu.Lock()
	c.Statuses[status]++
	c.mu.Unlock()
}

// judge checks every promise and returns the counts, or an error naming
// what failed (the counts are printed either way).
func judge(result map[string]any, c *replicaCounts, p *provider, resets, changes []string, limit []int,
	left map[string]int) (map[string]any, error) {
	var problems []string
	for status, n := range c.Statuses {
		switch status {
		case "202", "204", "429", "503":
		case "403":
			if n > c.committedBehind503 {
				problems = append(problems, fmt.Sprintf("%d answers 403, %d of them explained by a change committed behind a 503", n, c.committedBehind503))
			}
		default:
			problems = append(problems, fmt.Sprintf("%d answers %s", n, status))
		}
	}
	emails := map[string]int{"known_202_with_one_email": 0, "duplicates": 0, "lost": 0,
		"known_503_sent_anyway": 0, "unknown_with_email": 0}
	for _, a := range c.known202 {
		switch n := p.received(a); {
		case n == 1:
			emails["known_202_with_one_email"]++
		case n > 1:
			emails["duplicates"] += n - 1
		default:
			emails["lost"]++
		}
	}
	for _, a := range c.known503 {
		if p.received(a) > 0 {
			emails["known_503_sent_anyway"]++
		}
	}
	for _, a := range c.unknown {
		if p.received(a) > 0 {
			emails["unknown_with_email"]++
		}
	}
	notices := map[string]int{"resets_completed": len(resets), "changes_completed": len(changes), "missing": 0}
	for _, a := range resets {
		if p.received(a) < 2 { // the link and the notice
			notices["missing"]++
		}
	}
	for _, a := range changes {
		if p.received(a) < 1 {
			notices["missing"]++
		}
	}
	result["statuses"] = c.Statuses
	result["changes_committed_behind_a_503"] = c.committedBehind503
	result["emails"] = emails
	result["notices"] = notices
	if emails["lost"] > 0 {
		problems = append(problems, fmt.Sprintf("%d emails lost", emails["lost"]))
	}
	// A duplicate is allowed only for a send in flight when a replica died:
	// at most one per mail worker of the killed replica.
	if emails["duplicates"] > 100 {
		problems = append(problems, fmt.Sprintf("%d duplicates", emails["duplicates"]))
	}
	if emails["unknown_with_email"] > 0 {
		problems = append(problems, "an unknown address got an email")
	}
	if notices["missing"] > 0 || len(resets) < replicaResets || len(changes) < replicaChanges {
		problems = append(problems, fmt.Sprintf("notices missing or flows incomplete: %v", notices))
	}
	if len(limit) != 11 || limit[10] != http.StatusTooManyRequests {
		problems = append(problems, fmt.Sprintf("per-IP limit across replicas: %v, want ten 202 then 429", limit))
	}
	for _, s := range limit[:min(10, len(limit))] {
		if s != http.StatusAccepted {
			problems = append(problems, fmt.Sprintf("per-IP limit across replicas: %v, want ten 202 then 429", limit))
			break
		}
	}
	if len(left) > 0 {
		problems = append(problems, fmt.Sprintf("queue not empty: %v", left))
	}
	sort.Strings(problems)
	result["problems"] = problems
	if len(problems) > 0 {
		return result, fmt.Errorf("replicas: %v", problems)
	}
	return result, nil
}

// pendingJobs counts jobs that are not finished.
func pendingJobs(ctx context.Context, db *sql.DB) (map[string]int, error) {
	return countStates(ctx, db, `SELECT state, count(*) FROM river_job
		WHERE state NOT IN ('completed', 'cancelled', 'discarded') AND kind <> 'housekeeping' GROUP BY state`)
}
