package openapi

import (
	"bytes"
	"context"
	"flag"
	"os"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	apidoc "github.com/genericcorp/baton/api"
	"github.com/genericcorp/baton/internal/server"
)

var update = flag.Bool("update", false, "rewrite api/openapi.json")

// TestDocumentIsCurrent fails when api/openapi.json (which the server
// serves) differs from what the route table and pkg/api generate. Fix:
// go generate ./... (or go test ./internal/openapi -update).
func TestDocumentIsCurrent(t *testing.T) {
	got, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("../../api/openapi.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(got, apidoc.JSON) {
		t.Fatal("api/openapi.json is stale: run go generate ./... and commit the result")
	}
}

// The committed document is valid OpenAPI 3.0 as kin-openapi's loader
// sees it (refs resolve, schemas and examples are well-formed).
func TestDocumentValidates(t *testing.T) {
	doc := load(t)
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func load(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(apidoc.JSON)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// What issue 15 asked of the document, read back from it.
func TestDocumentSaysWhatTheServerDoes(t *testing.T) {
	doc := load(t)
	task := doc.Components.Schemas["Task"].Value
	for _, f := range []string{"id", "status", "queue", "created_at", "input", "output"} {
		if !slices.Contains(task.Required, f) {
			t.Errorf("Task.required %v lacks %s", task.Required, f)
		}
	}
	// Any JSON value, null included, is the empty schema in OpenAPI 3.0.3;
	// nullable without a type is meaningless there (redocly refuses it).
	for _, f := range []string{"input", "output"} {
		if v := task.Properties[f].Value; v.Type != nil || v.Nullable || v.Items != nil {
			t.Errorf("Task.%s = %+v, want any JSON value (no type, no nullable)", f, v)
		}
	}
	in := doc.Components.Schemas["SubmitTaskRequest"].Value.Properties["input"].Value
	if !in.Type.Is("object") || !in.Nullable {
		t.Errorf("SubmitTaskRequest.input = %+v, want a nullable object (the server refuses anything else)", in)
	}
	// nullable only adds null to a type given beside it: every nullable
	// schema has one.
	for name, sc := range doc.Components.Schemas {
		for pname, p := range sc.Value.Properties {
			if p.Value != nil && p.Value.Nullable && p.Value.Type == nil {
				t.Errorf("%s.%s is nullable without a type", name, pname)
			}
		}
	}
	if st := task.Properties["status"].Value; len(st.Enum) != 8 {
		t.Errorf("Task.status enum = %v", st.Enum)
	}
	if got := task.Properties["max_cost_micros"].Value.Format; got != "int64" {
		t.Errorf("max_cost_micros format = %q", got)
	}
	submit := doc.Paths.Find("/v1/tasks").Post
	if submit.OperationID != "tasks.submit" {
		t.Errorf("operationId = %q", submit.OperationID)
	}
	for _, s := range []string{"200", "201", "400", "401", "403", "409", "413", "422", "429", "503"} {
		if submit.Responses.Value(s) == nil {
			t.Errorf("POST /v1/tasks does not document %s", s)
		}
	}
	if req := doc.Components.Schemas["SubmitTaskRequest"].Value; req.AdditionalProperties.Has == nil || *req.AdditionalProperties.Has {
		t.Error("SubmitTaskRequest allows unknown fields; the server refuses them")
	}
	ev := doc.Paths.Find("/v1/tasks/{id}/events").Get.Responses.Value("200").Value.Content
	if ev.Get("text/event-stream") == nil || ev.Get("application/json") == nil {
		t.Errorf("events content = %v", ev)
	}
	for _, rt := range server.Routes() {
		o := doc.Paths.Find(rt.Path).GetOperation(rt.Method)
		if o == nil {
			t.Errorf("%s %s missing", rt.Method, rt.Path)
			continue
		}
		if rt.Scope == server.ScopePublic {
			if o.Security == nil || len(*o.Security) != 0 {
				t.Errorf("%s %s: public route without security: []", rt.Method, rt.Path)
			}
		} else if o.Extensions["x-baton-scope"] != rt.Scope {
			t.Errorf("%s %s: x-baton-scope = %v, want %q", rt.Method, rt.Path, o.Extensions["x-baton-scope"], rt.Scope)
		}
	}
}
