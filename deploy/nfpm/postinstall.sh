#!/bin/sh
# deb/rpm post-install: make the data dir (so `baton server init` can run
# before the first start) and tell systemd about the unit. The service is
# neither enabled nor started: configure /etc/baton/baton.env first.
set -e
install -d -o baton -g baton -m 0750 /var/lib/baton
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	if systemctl is-active --quiet baton; then
		# An upgrade: restart on the new binary (it migrates at start).
		systemctl try-restart baton >/dev/null 2>&1 || true
	else
		echo "baton: edit /etc/baton/baton.env, print the first operator key (once), start:"
		echo "  sudo systemd-run --quiet --wait --pipe -p User=baton -p EnvironmentFile=/etc/baton/baton.env -p Environment=BATON_DATA_DIR=/var/lib/baton /usr/bin/baton server init"
		echo "  sudo systemctl enable --now baton"
		echo "See /usr/share/doc/baton/self-hosting.md."
	fi
fi
