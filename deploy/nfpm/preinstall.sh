#!/bin/sh
# deb/rpm pre-install: the system user and group baton.service runs as.
set -e
if ! getent group baton >/dev/null 2>&1; then
	groupadd --system baton
fi
if ! getent passwd baton >/dev/null 2>&1; then
	useradd --system --gid baton --home-dir /var/lib/baton --no-create-home \
		--shell /usr/sbin/nologin --comment "baton server" baton
fi
