package store

import (
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/lib/pq"
)

// River's database/sql driver passes its array parameters (every column of
// a batch of jobs inserted at once, the ids of the jobs a fetch or a
// completion touches) as lib/pq arrays. pgx knows them only as
// driver.Valuer: it asks each for its text form, parses that text back into
// an array and encodes the result, which cost a fifth of the service's CPU
// on the {"email"} path. nativeArrays hands pgx the slice inside instead,
// which it encodes in binary directly. It is registered on every
// PostgreSQL connection (see Open). The values arrive as through the text
// path, except that times are cut to the microsecond where PostgreSQL would
// round the text form (pgx's binary encoding of a single time does the same).
//
// Only the shapes River uses are unwrapped: lib/pq's typed arrays and its
// GenericArray of []time.Time or []int16; anything else keeps the text path.
func nativeArrays(value any) (pgtype.WrappedEncodePlanNextSetter, any, bool) {
	switch v := value.(type) {
	case *pq.StringArray:
		return unwrapPlan(func(a *pq.StringArray) []string { return *a }), []string(*v), true
	case *pq.Int64Array:
		return unwrapPlan(func(a *pq.Int64Array) []int64 { return *a }), []int64(*v), true
	case *pq.Int32Array:
		return unwrapPlan(func(a *pq.Int32Array) []int32 { return *a }), []int32(*v), true
	case *pq.BoolArray:
		return unwrapPlan(func(a *pq.BoolArray) []bool { return *a }), []bool(*v), true
	case *pq.ByteaArray:
		return unwrapPlan(emptyNotNull), [][]byte(*v), true
	case pq.GenericArray:
		switch a := v.A.(type) {
		case []time.Time:
			return genericPlan[[]time.Time](), a, true
		case []int16:
			return genericPlan[[]int16](), a, true
		}
	}
	return nil, nil, false
}

// emptyNotNull is a ByteaArray's slice with nil elements made empty: lib/pq
// sends a nil []byte as an empty bytea, not NULL (River turns empty unique
// keys into NULL itself).
func emptyNotNull(a *pq.ByteaArray) [][]byte {
	if !slices.ContainsFunc(*a, func(b []byte) bool { return b == nil }) {
		return *a
	}
	out := slices.Clone(*a)
	for i, b := range out {
		if b == nil {
			out[i] = []byte{}
		}
	}
	return out
}

// unwrapPlan encodes a lib/pq array as the slice inside it.
func unwrapPlan[W any, S any](unwrap func(W) S) *arrayPlan {
	return &arrayPlan{unwrap: func(v any) (any, error) {
		w, ok := v.(W)
		if !ok {
			return nil, fmt.Errorf("store: array parameter %T where %T was planned", v, w)
		}
		return unwrap(w), nil
	}}
}

// genericPlan encodes a lib/pq GenericArray holding an S as that S. pgx
// keeps one plan per parameter type and column type, and GenericArray is one
// Go type whatever it holds: this plan refuses a GenericArray that holds
// something else, and pgx then sends it in its text form, as without
// nativeArrays; never a misencoded value.
func genericPlan[S any]() *arrayPlan {
	return &arrayPlan{unwrap: func(v any) (any, error) {
		g, ok := v.(pq.GenericArray)
		if s, isS := g.A.(S); ok && isS {
			return s, nil
		}
		var want S
		return nil, fmt.Errorf("store: array parameter %T (%T) where GenericArray of %T was planned", v, g.A, want)
	}}
}

// arrayPlan is a pgx encode plan that unwraps the value and hands it on.
type arrayPlan struct {
	next   pgtype.EncodePlan
	unwrap func(any) (any, error)
}

func (p *arrayPlan) SetNext(next pgtype.EncodePlan) { p.next = next }

func (p *arrayPlan) Encode(value any, buf []byte) ([]byte, error) {
	inner, err := p.unwrap(value)
	if err != nil {
		return nil, err
	}
	return p.next.Encode(inner, buf)
}
