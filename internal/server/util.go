package server

import (
	"errors"
	"strings"

	"github.com/genericcorp/baton/pkg/api"
)

func isProblem(err error, code api.Code) bool {
	var p *api.Problem
	return errors.As(err, &p) && p.Code == code
}

func joinNames(names []string) string { return strings.Join(names, ", ") }
