package openapi

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"

	"github.com/genericcorp/baton/internal/server"
	"github.com/genericcorp/baton/pkg/api"
)

// schemas turns the wire types of pkg/api into component schemas with
// kin-openapi's openapi3gen. Reflection gives names, types, int64 and
// date-time formats and nullable pointers; the customizer adds what it
// cannot see: required (every field without omitempty), descriptions from
// the doc comments, and the per-type hooks below (enums, bounds, any-JSON
// fields).
type schemas struct {
	gen   *openapi3gen.Generator
	all   openapi3.Schemas
	docs  map[string]string // "Type" and "Type.Field" → doc comment
	hooks map[reflect.Type]func(*openapi3.Schema)
}

func newSchemas(b server.Bounds) (*schemas, error) {
	docs, err := apiDocs()
	if err != nil {
		return nil, err
	}
	s := &schemas{all: openapi3.Schemas{}, docs: docs, hooks: typeHooks(b)}
	s.gen = openapi3gen.NewGenerator(
		openapi3gen.CreateComponentSchemas(openapi3gen.ExportComponentSchemasOptions{
			ExportComponentSchemas: true, ExportTopLevelSchema: true, ExportGenerics: true}),
		openapi3gen.CreateTypeNameGenerator(schemaName),
		openapi3gen.SchemaCustomizer(s.customize),
	)
	return s, nil
}

// ref returns the schema of v's type: a $ref to its component for a
// struct.
func (s *schemas) ref(v any) (*openapi3.SchemaRef, error) {
	return s.gen.NewSchemaRefForValue(v, s.all)
}

// schemaName is a component's name: the Go type's name without its
// package path; api.List[api.Task] is TaskList.
func schemaName(t reflect.Type) string {
	name := t.Name()
	if base, arg, ok := strings.Cut(name, "["); ok {
		arg = strings.TrimSuffix(arg, "]")
		arg = arg[strings.LastIndex(arg, ".")+1:]
		return arg + base
	}
	return name
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// customize is openapi3gen's hook, called for every schema it makes.
func (s *schemas) customize(name string, t reflect.Type, tag reflect.StructTag, sc *openapi3.Schema) error {
	if t == rawType {
		// Raw JSON is any JSON value, null included (not bytes): the
		// empty schema. OpenAPI 3.0.3 (and JSON Schema) read {} as
		// allowing null; nullable without a type means nothing there
		// (redocly's nullable-type-sibling refuses it).
		sc.Type, sc.Format, sc.Nullable, sc.Items = nil, "", false, nil
		sc.Description = "Any JSON value, null included."
		return nil
	}
	if t.Kind() != reflect.Struct || t == timeType || sc.Properties == nil {
		return nil
	}
	goName := t.Name()
	if i := strings.Index(goName, "["); i >= 0 {
		goName = goName[:i]
	}
	sc.Description = s.docs[goName]
	for i := range t.NumField() {
		f := t.Field(i)
		jname, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if jname == "-" || jname == "" || !f.IsExported() {
			continue
		}
		prop := sc.Properties[jname]
		if prop == nil {
			continue
		}
		if !strings.Contains(opts, "omitempty") {
			sc.Required = append(sc.Required, jname)
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct && ft.Elem() != timeType {
			// A $ref has no siblings in OpenAPI 3.0: a nullable object
			// is allOf its component, nullable, and (since nullable
			// only adds null to a type given beside it) of type object.
			prop = openapi3.NewSchemaRef("", &openapi3.Schema{Type: &openapi3.Types{"object"}, AllOf: openapi3.SchemaRefs{prop}, Nullable: true})
			sc.Properties[jname] = prop
		}
		if d := s.docs[goName+"."+f.Name]; d != "" {
			if !strings.HasPrefix(prop.Ref, "#/") && prop.Value != nil {
				prop.Value.Description = d
			} else {
				sc.Properties[jname] = openapi3.NewSchemaRef("", &openapi3.Schema{AllOf: openapi3.SchemaRefs{prop}, Description: d})
			}
		}
	}
	if h := s.hooks[t]; h != nil {
		h(sc)
	}
	return nil
}

// apiDocs reads the doc comments of pkg/api's types and fields from its
// source (next to this package's, found through runtime.Caller: the
// generator runs from a checkout).
func apiDocs() (map[string]string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return nil, fmt.Errorf("openapi: cannot find pkg/api's source")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "pkg", "api")
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("openapi: parse pkg/api: %w", err)
	}
	out := map[string]string{}
	clean := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for _, p := range pkgs {
		for _, t := range doc.New(p, "./", doc.AllDecls).Types {
			out[t.Name] = clean(t.Doc)
			for _, spec := range t.Decl.Specs {
				ts, ok := spec.(*ast.TypeSpec)
				if !ok {
					continue
				}
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				for _, f := range st.Fields.List {
					text := f.Doc.Text()
					if text == "" {
						text = f.Comment.Text()
					}
					for _, n := range f.Names {
						if text != "" {
							out[t.Name+"."+n.Name] = clean(text)
						}
					}
				}
			}
		}
	}
	return out, nil
}

// prop returns the inline schema of property name of sc (nil for a $ref).
func prop(sc *openapi3.Schema, name string) *openapi3.Schema {
	p := sc.Properties[name]
	if p == nil {
		panic("openapi: no property " + name)
	}
	if strings.HasPrefix(p.Ref, "#/") || p.Value == nil {
		panic("openapi: property " + name + " is a $ref")
	}
	if len(p.Value.AllOf) == 1 { // described or nullable $ref
		panic("openapi: property " + name + " is a $ref")
	}
	return p.Value
}

func enum(sc *openapi3.Schema, name string, values ...string) {
	p := prop(sc, name)
	if p.Items != nil && p.Items.Value != nil { // an array of the values
		p = p.Items.Value
	}
	p.Enum = nil
	for _, v := range values {
		p.Enum = append(p.Enum, v)
	}
}

func bounds(sc *openapi3.Schema, name string, lo, hi float64) {
	p := prop(sc, name)
	p.Min, p.Max = &lo, &hi
}

func minimum(sc *openapi3.Schema, name string, lo float64) {
	prop(sc, name).Min = &lo
}

func maxLen(sc *openapi3.Schema, name string, n uint64) {
	prop(sc, name).MaxLength = &n
}

func nullable(sc *openapi3.Schema, names ...string) {
	for _, n := range names {
		prop(sc, n).Nullable = true
	}
}

// strict marks a request body's object: the server refuses unknown fields
// with a 400 naming the field.
func strict(sc *openapi3.Schema) {
	sc.AdditionalProperties = openapi3.AdditionalProperties{Has: new(false)}
}

// optional drops names from required: request fields the server defaults
// when absent although their Go field has no omitempty.
func optional(sc *openapi3.Schema, names ...string) {
	var keep []string
	for _, r := range sc.Required {
		drop := false
		for _, n := range names {
			drop = drop || r == n
		}
		if !drop {
			keep = append(keep, r)
		}
	}
	sc.Required = keep
}

func describe(sc *openapi3.Schema, name, text string) {
	p := prop(sc, name)
	if p.Description != "" {
		text = p.Description + " " + text
	}
	p.Description = text
}

var taskUsageDesc = "Totals over the task's attempts: execution time (ms), agent-reported tokens and cost (micro-dollars)."

// typeHooks say per type what reflection cannot: enums, bounds the server
// enforces (422 past them), nullable slices and maps, and the strict
// objects of request bodies.
func typeHooks(b server.Bounds) map[reflect.Type]func(*openapi3.Schema) {
	workspaceScopes := append(append([]string{}, api.WorkspaceScopes...), api.OperatorScopes...)
	usage := func(sc *openapi3.Schema) {
		bounds(sc, "tokens", 0, float64(b.MaxUsageTokens))
		bounds(sc, "cost_micros", 0, float64(b.MaxUsageCost))
	}
	stepStatuses := []string{api.StepRunning, api.StepSucceeded, api.StepFailed, api.StepWaiting}
	actions := []string{api.ActionRun, api.ActionDone, api.ActionSuspend, api.ActionStop}
	waits := []string{api.WaitSleep, api.WaitSignal, api.WaitChild, api.WaitOperator, api.WaitBudget}
	return map[reflect.Type]func(*openapi3.Schema){
		reflect.TypeFor[api.Workspace](): func(sc *openapi3.Schema) {
			enum(sc, "status", api.WorkspaceActive, api.WorkspaceSuspended)
		},
		reflect.TypeFor[api.Key](): func(sc *openapi3.Schema) {
			enum(sc, "scopes", workspaceScopes...)
		},
		reflect.TypeFor[api.MeKey](): func(sc *openapi3.Schema) {
			enum(sc, "scopes", workspaceScopes...)
		},
		reflect.TypeFor[api.Task](): func(sc *openapi3.Schema) {
			enum(sc, "status", api.TaskStatuses...)
			describe(sc, "input", "The task's input: a JSON object for a task submitted with POST /v1/tasks "+
				"(which stores {} for none); a task a spawn step started has the input the step gave.")
			describe(sc, "output", "What the agent produced; null until the task succeeds.")
			describe(sc, "timeout_seconds", "Run timeout of one attempt.")
		},
		reflect.TypeFor[api.Attempt](): func(sc *openapi3.Schema) {
			enum(sc, "status", api.TaskRunning, api.TaskSucceeded, api.TaskFailed, "expired", api.TaskCancelled, api.TaskTimedOut, api.TaskTerminated, "suspended")
		},
		reflect.TypeFor[api.TaskUsage](): func(sc *openapi3.Schema) { sc.Description = taskUsageDesc },
		reflect.TypeFor[api.TaskEvent](): func(sc *openapi3.Schema) {
			enum(sc, "type", api.EventState, api.EventLog, api.EventStep, api.EventStream)
			enum(sc, "status", api.TaskStatuses...) // the task's new status, on state events
		},
		reflect.TypeFor[api.CreateWorkspaceRequest](): func(sc *openapi3.Schema) {
			strict(sc)
			maxLen(sc, "name", 63)
		},
		reflect.TypeFor[api.UpdateWorkspaceRequest](): func(sc *openapi3.Schema) {
			strict(sc)
			enum(sc, "status", api.WorkspaceActive, api.WorkspaceSuspended)
		},
		reflect.TypeFor[api.CreateKeyRequest](): func(sc *openapi3.Schema) {
			strict(sc)
			optional(sc, "name", "scopes") // default: the name "key", scope "*"
			nullable(sc, "scopes")
			maxLen(sc, "name", 100)
			enum(sc, "scopes", workspaceScopes...)
		},
		reflect.TypeFor[api.RotateKeyRequest](): strict,
		reflect.TypeFor[api.SubmitTaskRequest](): func(sc *openapi3.Schema) {
			strict(sc)
			in := prop(sc, "input")
			in.Type, in.Nullable = &openapi3.Types{"object"}, true
			in.AdditionalProperties = openapi3.AdditionalProperties{Has: new(true)}
			in.Description = fmt.Sprintf("The task's input: a JSON object of at most %d bytes (null or absent: {}); "+
				"anything else is a 422.", b.MaxTaskInputBytes)
			bounds(sc, "priority", -float64(b.MaxPriority), float64(b.MaxPriority))
			bounds(sc, "timeout_seconds", 0, float64(b.MaxTimeoutSeconds))
			bounds(sc, "max_attempts", 0, float64(b.MaxAttempts))
			bounds(sc, "max_cost_micros", 0, float64(b.MaxTaskCostMicros))
			maxLen(sc, "queue", 63)
			n := uint64(b.MaxLabels)
			prop(sc, "labels").MaxProps = &n
		},
		reflect.TypeFor[api.ClaimRequest](): func(sc *openapi3.Schema) {
			strict(sc)
			nullable(sc, "queues") // null or []: every queue
			bounds(sc, "wait_seconds", 0, float64(b.MaxClaimWait))
			bounds(sc, "max_tasks", 0, float64(b.MaxClaimTasks))
			bounds(sc, "concurrency", 0, 10000)
			maxLen(sc, "worker_id", 128)
			maxLen(sc, "host", 255)
		},
		reflect.TypeFor[api.UsageReport](): func(sc *openapi3.Schema) { strict(sc); usage(sc) },
		reflect.TypeFor[api.HeartbeatRequest](): func(sc *openapi3.Schema) {
			strict(sc)
			minimum(sc, "attempt", 1)
		},
		reflect.TypeFor[api.LogsRequest](): func(sc *openapi3.Schema) {
			strict(sc)
			n := uint64(b.MaxLogLines)
			prop(sc, "lines").MaxItems = &n
			maxLen(sc, "channel", api.MaxChannelBytes)
		},
		reflect.TypeFor[api.CompleteRequest](): func(sc *openapi3.Schema) { strict(sc) },
		reflect.TypeFor[api.FailRequest]():     strict,
		reflect.TypeFor[api.StepBeginRequest](): func(sc *openapi3.Schema) {
			strict(sc)
			enum(sc, "kind", api.StepKinds...)
			minimum(sc, "attempt", 1)
			maxLen(sc, "input_hash", 200)
			maxLen(sc, "signal", uint64(api.MaxSignalNameLen))
		},
		reflect.TypeFor[api.StepBeginResponse](): func(sc *openapi3.Schema) {
			enum(sc, "action", actions...)
			enum(sc, "previous_outcome", api.PreviousOutcomeUnknown)
		},
		reflect.TypeFor[api.StepEndRequest](): func(sc *openapi3.Schema) {
			strict(sc)
			minimum(sc, "attempt", 1)
		},
		reflect.TypeFor[api.StepEndResponse](): func(sc *openapi3.Schema) { enum(sc, "action", actions...) },
		reflect.TypeFor[api.Step](): func(sc *openapi3.Schema) {
			enum(sc, "kind", api.StepKinds...)
			enum(sc, "status", stepStatuses...)
		},
		reflect.TypeFor[api.StepWaitFor]():   func(sc *openapi3.Schema) { enum(sc, "reason", waits...) },
		reflect.TypeFor[api.SignalRequest](): strict,
		reflect.TypeFor[api.UpdateTaskRequest](): func(sc *openapi3.Schema) {
			strict(sc)
			bounds(sc, "priority", -float64(b.MaxPriority), float64(b.MaxPriority))
			bounds(sc, "max_cost_micros", 0, float64(b.MaxTaskCostMicros))
		},
		reflect.TypeFor[api.RetryTaskRequest](): strict,
		reflect.TypeFor[api.UsageSeries](): func(sc *openapi3.Schema) {
			enum(sc, "granularity", api.GranularityHour, api.GranularityDay)
		},
		reflect.TypeFor[api.QuotaMetric](): func(sc *openapi3.Schema) { enum(sc, "name", api.QuotaMetrics...) },
		reflect.TypeFor[api.Quota](): func(sc *openapi3.Schema) {
			enum(sc, "status", api.WorkspaceActive, api.WorkspaceSuspended)
			enum(sc, "exceeded", api.QuotaMetrics...)
		},
		reflect.TypeFor[api.Alert](): func(sc *openapi3.Schema) { enum(sc, "kind", api.AlertThreshold, api.AlertAnomaly) },
		reflect.TypeFor[api.Problem](): func(sc *openapi3.Schema) {
			codes := make([]string, 0, len(api.Codes()))
			for _, c := range api.Codes() {
				codes = append(codes, string(c))
			}
			enum(sc, "code", codes...)
			describe(sc, "type", "A URI reference to the error's entry in the server's docs: /docs/errors#CODE.")
		},
	}
}
