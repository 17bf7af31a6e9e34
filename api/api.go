// Package api holds baton's OpenAPI document, api/openapi.json: generated
// from the server's route table and the wire types in pkg/api by
// cmd/baton-openapi (go generate ./...), committed so that changes to the
// API show in review and oasdiff can compare it with
// api/openapi.baseline.json. The server serves it at /openapi.json.
// go generate then regenerates the oapi-codegen client of the separate
// module test/openapi-client from it, so both stay current together.
package api

import _ "embed"

//go:generate go run ../cmd/baton-openapi -o openapi.json
//go:generate go -C ../test/openapi-client generate ./...

// JSON is the OpenAPI 3.0.3 document.
//
//go:embed openapi.json
var JSON []byte
