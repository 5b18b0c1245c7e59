package store

import (
	"testing"
	"time"

	"github.com/lib/pq"
)

// Every array shape River passes for a built-in column type is handed to
// pgx as its slice; its job states (a type of River's own) keep the text
// form.
func TestNativeArraysShapes(t *testing.T) {
	type state string
	for _, tc := range []struct {
		value  any
		native bool
	}{
		{pq.Array([]string{"{}"}), true},
		{pq.Array([]int64{1}), true},
		{pq.Array([]int32{1}), true},
		{pq.Array([]bool{true}), true},
		{pq.Array([][]byte{nil}), true},
		{pq.Array([]time.Time{time.Unix(0, 0)}), true},
		{pq.Array([]int16{1}), true},
		{pq.Array([]state{"available"}), false},
		{"not an array", false},
	} {
		if _, _, ok := nativeArrays(tc.value); ok != tc.native {
			t.Errorf("%T: native %v, want %v", tc.value, ok, tc.native)
		}
	}
}
