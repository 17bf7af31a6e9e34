package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// fakeServer stands in for a baton server: two pages of keys, and 404 for
// anything else.
func fakeServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(api.HeaderRequestID, "req_example")
		if r.URL.Path != "/v1/keys" {
			p := api.Errorf(api.CodeNotFound, "key %s not found", r.URL.Path[len("/v1/keys/"):])
			w.Header().Set("Content-Type", api.ProblemContentType)
			w.WriteHeader(p.Status)
			_ = json.NewEncoder(w).Encode(p)
			return
		}
		page := api.List[api.Key]{Data: []api.Key{{ID: "key_1", Name: "ci"}}, NextCursor: new(string)}
		*page.NextCursor = "next"
		if r.URL.Query().Get("cursor") == "next" {
			page = api.List[api.Key]{Data: []api.Key{{ID: "key_2", Name: "deploy"}}}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(page)
	}))
}

func Example() {
	srv := fakeServer()
	defer srv.Close()

	c, err := client.New(srv.URL, client.WithAPIKey("bk_…"), client.WithUserAgent("1.0.0"))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()

	// Every key of the workspace, page after page.
	for k, err := range c.AllKeys(ctx, 1) {
		if err != nil {
			fmt.Println("error:", err)
			break
		}
		fmt.Println(k.ID, k.Name)
	}

	// Problem responses are *client.APIError; switch on their code.
	_, err = c.GetKey(ctx, "key_9")
	if client.IsCode(err, api.CodeNotFound) {
		fmt.Println(err)
	}
	// Output:
	// key_1 ci
	// key_2 deploy
	// not_found: key key_9 not found (request req_example)
}
