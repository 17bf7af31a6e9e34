package server

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
)

// misspelledField returns the first object key of raw, at any depth a
// request type t describes, that is not exactly one of its fields' JSON
// names. encoding/json matches names without regard to case, so
// {"Attempt": 1} would pass for {"attempt": 1} although the API document
// (and any proxy or validator reading it) refuses it: found by
// FuzzRouteBodies. raw has been decoded into a t already.
func misspelledField(raw []byte, t reflect.Type) (string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) ||
		reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return "", false // its own format (json.RawMessage, time.Time)
	}
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return "", false // null
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fields[name] = f.Type
		}
		for k, v := range obj {
			ft, ok := fields[k]
			if !ok {
				return k, true
			}
			if name, bad := misspelledField(v, ft); bad {
				return k + "." + name, true
			}
		}
	case reflect.Slice, reflect.Array:
		var list []json.RawMessage
		if t.Elem().Kind() == reflect.Uint8 || json.Unmarshal(raw, &list) != nil {
			return "", false // bytes, or null
		}
		for i, e := range list {
			if name, bad := misspelledField(e, t.Elem()); bad {
				return "[" + strconv.Itoa(i) + "]." + name, true
			}
		}
	case reflect.Map:
		var elems map[string]json.RawMessage
		if json.Unmarshal(raw, &elems) != nil {
			return "", false
		}
		for k, e := range elems {
			if name, bad := misspelledField(e, t.Elem()); bad {
				return k + "." + name, true
			}
		}
	}
	return "", false
}
