package sqlstore

// PruneTaskEvents deletes at most ph(3) task events of workspace ph(1)
// older than ph(2). A batch at a time, so a large backlog never holds a
// long transaction; the caller repeats until fewer were deleted.
func PruneTaskEvents(ph func(n int) string) string {
	return `DELETE FROM task_events WHERE (task_id, seq) IN (
		SELECT task_id, seq FROM task_events WHERE workspace_id = ` + ph(1) + ` AND at < ` + ph(2) + `
		LIMIT ` + ph(3) + `)`
}

// PruneUsageEvents deletes at most ph(3) raw usage events of workspace
// ph(1) older than ph(2). The hourly and monthly rollups, which every
// usage read and quota uses, are not touched, so they stay exact.
func PruneUsageEvents(ph func(n int) string) string {
	return `DELETE FROM usage_events WHERE workspace_id = ` + ph(1) + ` AND id IN (
		SELECT id FROM usage_events WHERE workspace_id = ` + ph(1) + ` AND at < ` + ph(2) + `
		LIMIT ` + ph(3) + `)`
}
