package server

import (
	"net/http"

	apidoc "github.com/genericcorp/baton/api"
)

// handleOpenAPI serves the committed API document (api/openapi.json),
// generated from the route table; internal/openapi's tests fail when it
// is stale.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request, _ *principal) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(apidoc.JSON)
	return nil
}
