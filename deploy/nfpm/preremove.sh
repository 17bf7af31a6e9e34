#!/bin/sh
# deb/rpm pre-remove: stop and disable the service when the package is
# removed, not when it is upgraded. Data in /var/lib/baton is kept.
set -e
remove=0
case "$1" in
	remove | purge | 0) remove=1 ;; # deb: remove|purge; rpm: 0 packages left
esac
if [ "$remove" = 1 ] && [ -d /run/systemd/system ]; then
	systemctl disable --now baton >/dev/null 2>&1 || true
fi
