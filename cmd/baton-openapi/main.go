// Command baton-openapi writes baton's OpenAPI document (api/openapi.json),
// generated from the server's route table and pkg/api's wire types. It runs
// from `go generate ./...` (see api/api.go); internal/openapi's tests fail
// while the committed document is stale.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/genericcorp/baton/internal/openapi"
)

func main() {
	out := flag.String("o", "", "write the document to this file (default: stdout)")
	flag.Parse()
	doc, err := openapi.JSON()
	if err != nil {
		fmt.Fprintln(os.Stderr, "baton-openapi:", err)
		os.Exit(1)
	}
	if *out == "" {
		_, err = os.Stdout.Write(doc)
	} else {
		err = os.WriteFile(*out, doc, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "baton-openapi:", err)
		os.Exit(1)
	}
}
