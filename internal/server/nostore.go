package server

import (
	"reflect"
	"strings"
)

// secretFields are the JSON names of response fields that hold a
// credential: a key's secret (shown once) and a session token.
var secretFields = map[string]bool{"secret": true, "token": true}

// carriesSecret reports whether a response of type t can hold a credential
// (a secretFields string field anywhere inside it). Such routes answer
// Cache-Control: no-store, so that no cache or proxy keeps the secret.
func carriesSecret(t reflect.Type) bool {
	return secretIn(t, map[reflect.Type]bool{})
}

func secretIn(t reflect.Type, seen map[reflect.Type]bool) bool {
	if t == nil || seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return secretIn(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Type.Kind() == reflect.String && secretFields[name] {
				return true
			}
			if secretIn(f.Type, seen) {
				return true
			}
		}
	}
	return false
}
