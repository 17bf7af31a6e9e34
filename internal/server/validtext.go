package server

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"

	"github.com/genericcorp/baton/pkg/api"
)

// Text that reaches the store must be valid UTF-8 without NUL: PostgreSQL
// refuses both (a 500 otherwise), SQLite would keep them. These checks run
// at the HTTP edge, before any handler: every path, query value and stored
// header (checkRequestText, in wrap) and every string of a decoded body
// (checkStrings, in decode).

// storedHeaders are the request headers whose values reach the store.
var storedHeaders = []string{api.HeaderIdempotencyKey, api.HeaderWorkspace, "Last-Event-ID"}

// checkRequestText refuses (400) a request whose path, query or stored
// headers hold text that no store can hold.
func checkRequestText(r *http.Request) error {
	if err := api.CheckText(r.URL.Path); err != nil {
		return api.Errorf(api.CodeInvalidRequest, "the path %v", err)
	}
	var query url.Values
	if r.URL.RawQuery != "" { // most requests have none: no map to parse into
		query = r.URL.Query()
	}
	for k, vs := range query {
		if err := api.CheckText(k); err != nil {
			return api.Errorf(api.CodeInvalidRequest, "a query parameter name %v", err)
		}
		for _, v := range vs {
			if err := api.CheckText(v); err != nil {
				p := api.Errorf(api.CodeInvalidRequest, "query parameter %s %v", k, err)
				p.Errors = []api.FieldError{{Field: k, Message: err.Error()}}
				return p
			}
		}
	}
	for _, h := range storedHeaders {
		for _, v := range r.Header.Values(h) {
			if err := api.CheckText(v); err != nil {
				return api.Errorf(api.CodeInvalidRequest, "header %s %v", h, err)
			}
		}
	}
	return nil
}

// cleanedText are request types whose text the store cleans instead (log
// lines and error messages of agents, which may print anything): refusing
// them would lose the agent's logs or outcome.
var cleanedText = map[reflect.Type]bool{
	reflect.TypeFor[api.LogsRequest](): true,
	reflect.TypeFor[api.FailRequest](): true,
}

// checkStrings names every string in v (fields, elements, map keys and
// values, by their JSON names) that no store can hold. Raw JSON
// ([]byte) is not text: CheckJSON bounds it.
func checkStrings(v any) []api.FieldError {
	rv := reflect.ValueOf(v)
	if cleanedText[rv.Type()] {
		return nil
	}
	var errs []api.FieldError
	walkStrings(rv, "", &errs)
	return errs
}

func walkStrings(v reflect.Value, path string, errs *[]api.FieldError) {
	switch v.Kind() {
	case reflect.String:
		if err := api.CheckText(v.String()); err != nil {
			*errs = append(*errs, api.FieldError{Field: cmp.Or(path, "body"), Message: "must be valid UTF-8 without NUL: " + err.Error()})
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkStrings(v.Elem(), path, errs)
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		for i := range v.Len() {
			walkStrings(v.Index(i), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			k := fmt.Sprint(it.Key().Interface())
			if it.Key().Kind() == reflect.String {
				if err := api.CheckText(k); err != nil {
					*errs = append(*errs, api.FieldError{Field: cmp.Or(path, "body"), Message: "keys must be valid UTF-8 without NUL: " + err.Error()})
					continue
				}
			}
			walkStrings(it.Value(), join(path, k), errs)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			walkStrings(v.Field(i), join(path, name), errs)
		}
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
