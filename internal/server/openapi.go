package server

import (
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

// The OpenAPI 3.1 document is generated from the route table and the wire
// types by reflection, so it describes exactly the routes that exist. (A
// generator library would add a large dependency for ~100 lines of code.)

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request, _ *principal) error {
	encode(w, http.StatusOK, s.openAPI())
	return nil
}

func (s *Server) openAPI() map[string]any {
	g := &schemaGen{defs: map[string]any{}}
	problem := g.schema(reflect.TypeOf(api.Problem{}))
	paths := map[string]any{}
	for _, rt := range s.routes {
		op := map[string]any{
			"summary":     rt.summary,
			"operationId": operationID(rt),
			"responses":   map[string]any{},
		}
		resp := op["responses"].(map[string]any)
		ok := map[string]any{"description": http.StatusText(rt.status)}
		if rt.response != nil {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.response))}}
		}
		resp[strconv.Itoa(rt.status)] = ok
		resp["default"] = map[string]any{"description": "Error (RFC 9457 problem details)",
			"content": map[string]any{api.ProblemContentType: map[string]any{"schema": problem}}}
		if rt.request != nil {
			op["requestBody"] = map[string]any{"required": rt.method != "POST" || !strings.HasSuffix(rt.path, "/rotate"),
				"content": map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.request))}}}
		}
		var params []any
		if strings.Contains(rt.path, "{id}") {
			params = append(params, map[string]any{"name": "id", "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.query {
			params = append(params, map[string]any{"name": q, "in": "query", "schema": map[string]any{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.scope != public {
			op["security"] = []any{map[string]any{"bearer": []string{}}}
			op["x-baton-scope"] = rt.scope
			ok["headers"] = rateLimitHeaders(false)
			resp["429"] = map[string]any{"description": "Rate limited (rate_limited) or over a quota (quota_exceeded)",
				"headers": rateLimitHeaders(true), "content": map[string]any{api.ProblemContentType: map[string]any{"schema": problem}}}
		}
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
		}
		item[strings.ToLower(rt.method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info":    map[string]any{"title": "baton API", "version": s.cfg.Version},
		"paths":   paths,
		"components": map[string]any{
			"schemas":         g.defs,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "API key (bk_…, bak_…) or session JWT"}},
		},
	}
}

// rateLimitHeaders documents the rate-limit headers of an authenticated
// route's responses (and Retry-After on a 429).
func rateLimitHeaders(refused bool) map[string]any {
	str := map[string]any{"type": "string"}
	h := map[string]any{
		"RateLimit-Policy": map[string]any{"description": `The tightest limit applied: "default";q=<requests per window>;w=<window seconds>`, "schema": str},
		"RateLimit":        map[string]any{"description": `"default";r=<requests left now>;t=<seconds until the full burst is back>`, "schema": str},
	}
	if refused {
		h["Retry-After"] = map[string]any{"description": "Whole seconds to wait before retrying", "schema": map[string]any{"type": "integer"}}
	}
	return h
}

func operationID(rt route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.method))
	for _, part := range strings.Split(strings.Trim(rt.path, "/"), "/") {
		part = strings.Trim(part, "{}")
		for _, w := range strings.FieldsFunc(part, func(r rune) bool { return r == '_' || r == '.' || r == '-' }) {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

// schemaGen turns Go types into JSON Schema, named structs into $refs.
type schemaGen struct{ defs map[string]any }

var timeType = reflect.TypeOf(time.Time{})

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Pointer:
		s := g.schema(t.Elem())
		return map[string]any{"oneOf": []any{s, map[string]any{"type": "null"}}}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		name := strings.NewReplacer("[", "_", "]", "", "/", "_", ".", "_").Replace(t.Name())
		if _, ok := g.defs[name]; !ok {
			g.defs[name] = map[string]any{} // placeholder against recursion
			props := map[string]any{}
			for i := range t.NumField() {
				f := t.Field(i)
				tag := strings.Split(f.Tag.Get("json"), ",")[0]
				if tag == "-" || !f.IsExported() {
					continue
				}
				if tag == "" {
					tag = f.Name
				}
				props[tag] = g.schema(f.Type)
			}
			g.defs[name] = map[string]any{"type": "object", "properties": props}
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}
