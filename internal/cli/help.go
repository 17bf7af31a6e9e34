package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// Command groups of the root help, after gh's "Core commands" and so on.
var commandGroups = []*cobra.Group{
	{ID: "core", Title: "Core commands:"},
	{ID: "ops", Title: "Operations:"},
	{ID: "setup", Title: "Setup:"},
	{ID: "additional", Title: "Additional commands:"},
}

// groupOf puts each top-level command in its group.
var groupOf = map[string]string{
	"tasks": "core", "workspaces": "core", "keys": "core", "usage": "core", "alerts": "core", "status": "core",
	"top": "ops", "workers": "ops", "queues": "ops", "worker": "ops", "server": "ops", "dev": "ops",
	"admin": "ops", "tiers": "ops", "doctor": "ops",
	"login": "setup", "logout": "setup", "auth": "setup", "profile": "setup", "completion": "setup",
	"api": "additional", "version": "additional",
}

// helpTopics are `baton help TOPIC` pages: commands without a run
// function, which cobra lists under "Additional help topics".
var helpTopics = []struct{ name, short, long string }{
	{"environment", "Environment variables baton reads", `Every global flag has an environment variable and a profile key of the
config file (` + "`baton help config`" + `). viper resolves each:
flag > environment > config file (the profile) > default.

  BATON_SERVER      server URL (--server, key server)
  BATON_API_KEY     API key (--api-key, key api_key); wins over the profile's
  BATON_PROFILE     profile of the config file to use (--profile)
  BATON_WORKSPACE   workspace id or name for an operator key (--workspace,
                    key workspace)
  BATON_OUTPUT      output format (-o, key output)
  BATON_NO_COLOR    true: no colour (--no-color, key no_color)
  BATON_QUIET       true: only ids, no hints (-q, key quiet)
  BATON_JQ          jq filter of every result (--jq, key jq)
  BATON_TEMPLATE    Go template of every result (--template, key template)
  BATON_DEBUG       true: HTTP trace to stderr (--debug, key debug)
  BATON_TIMEOUT     bound of each HTTP request, e.g. 30s (--timeout, key
                    timeout): each retry gets its own, an event stream is
                    bounded only until it opens, so logs -f, tasks wait and
                    top are not cut by it (how long to wait for a task is
                    --wait-timeout)
  BATON_CONFIG      path of the config file (default
                    $XDG_CONFIG_HOME/baton/config.yaml, mode 0600)
  NO_COLOR          set to anything: no colour (--no-color)
  CLICOLOR_FORCE    set to 1: colour even when piped
  XDG_CONFIG_HOME   where the config directory is (default ~/.config)

Booleans take true, false, 1 or 0; a value that does not parse is a usage
error naming the variable.

The server (baton server) reads its own variables: see ` + "`baton server --help`" + `.`},
	{"exit-codes", "Exit codes and what they mean", `baton exits with one of these codes (CONTRACT.md), so scripts can tell
failures apart without reading messages:

  0    success
  1    an error not listed below
  2    usage: bad flags or arguments, unknown profile or command
  3    not found
  4    authentication or permission (401, 403; not logged in)
  5    rate limited (after the client's own retries)
  6    quota exceeded
  7    timed out waiting (--wait, tasks wait)
  10   task failed
  11   task cancelled
  12   task terminated or timed out
  130  interrupted (Ctrl-C)

In JSON mode (-o json) an error is also JSON on stderr:
{"error": {"code", "message", "request_id", "hint"}}.`},
	{"formatting", "Output formats, --jq, --template and -q", `Data goes to standard output, everything else (progress, hints, warnings)
to standard error.

-o, --output FORMAT
  table   on a terminal a drawn table (ids are never cut: names and
          other free text give way with …); piped, tab-separated lines
          with a header and RFC 3339 times
  json    one JSON document: a list is an array of every object fetched
  jsonl   one JSON object per line
  yaml    the JSON document as YAML
  csv     RFC 4180, with a header

-q, --quiet
  Lists and creates print only ids, one a line; no hints or progress.
  With an explicit -o json (or yaml, jsonl) only the hints go.

--jq EXPR
  Filter the JSON result with a jq expression (gojq, built in: no jq
  needed). Strings print raw, anything else as compact JSON.
    baton tasks list --jq '.[] | select(.status == "failed") | .id'

--template TEMPLATE
  Format the JSON result with a Go template (text/template). Helpers:
    tablerow A B ...     a row of an aligned table, drawn at the end
    tablerender          draw the rows so far
    timeago TIME         "5 minutes ago"
    timefmt LAYOUT TIME  a time in a Go layout ("2006-01-02")
    color NAME TEXT      green, red, yellow, cyan, gray or bold (only
                         when colour is on)
    autocolor STATUS     a status in its colour
    truncate N TEXT      cut to N columns with …
    join SEP LIST, pluck FIELD LIST, json VALUE
    baton tasks list --template '{{range .}}{{tablerow .id (autocolor .status) (timeago .created_at)}}{{end}}'

Colour: on a terminal unless NO_COLOR is set or --no-color is given.`},
	{"config", "The config file and profiles", `The CLI's config file is $XDG_CONFIG_HOME/baton/config.yaml (BATON_CONFIG
names another), mode 0600 as it holds API keys. It holds profiles: a server,
a key and, for operator keys, a workspace each; current_profile is the one
used when --profile and BATON_PROFILE say nothing.

  current_profile: default
  profiles:
    default:
      server: https://baton.example.com
      api_key: bk_…
    ops:
      server: https://baton.example.com
      api_key: bak_…
      workspace: acme
      output: json      # any global setting: output, no_color, quiet,
      timeout: 30s      # jq, template, debug, timeout

  baton login --profile ops        save a key in a profile
  baton profile list | use | show  see and switch profiles
  baton doctor                     check the setup end to end

Each global setting is resolved by viper: flag > environment (BATON_*, see
` + "`baton help environment`" + `) > the profile's key > default
(` + "http://127.0.0.1:7070" + ` for the server, table for output).
` + "`baton doctor`" + ` and ` + "`baton auth status`" + ` say where the server and key came from.`},
}

// addHelpTopics adds the help topics and sorts the top-level commands into
// their groups.
func addHelpTopics(root *cobra.Command) {
	root.AddGroup(commandGroups...)
	for _, c := range root.Commands() {
		if g, ok := groupOf[c.Name()]; ok {
			c.GroupID = g
		}
	}
	root.SetHelpCommandGroupID("additional")
	for _, t := range helpTopics {
		root.AddCommand(&cobra.Command{Use: t.name, Short: t.short, Long: t.long})
	}
	// Topics are read with `baton help TOPIC`: say so in the list.
	tmpl := strings.Replace(root.UsageTemplate(),
		"  {{rpad .CommandPath .CommandPathPadding}} {{.Short}}{{end}}{{end}}{{end}}",
		"  {{rpad (printf \"baton help %s\" .Name) 23}} {{.Short}}{{end}}{{end}}{{end}}", 1)
	root.SetUsageTemplate(tmpl)
}
