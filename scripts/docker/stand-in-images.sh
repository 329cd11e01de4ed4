#!/usr/bin/env bash
# Stand-in base images for machines that reach no container registry.
#
# Builds, under the exact tags the Dockerfile and docker-compose.yml name,
#   node:24-alpine     Node 24 + npm copied from this host, user `node` (uid 1000), wget
#   redis:7-alpine     Debian's redis-server + redis-cli, WORKDIR /data, user redis
#   nginx:1.28-alpine  Debian's nginx, conf.d layout, logs to stdout/stderr, wget
# from a Debian bookworm rootfs (debootstrap --variant=minbase), with the host's
# CA certificates (HTTPS leaves this machine through a proxy whose CA only the
# host trusts; `npm ci` inside the image build needs it).
#
# They are NOT the upstream images: glibc instead of musl, Debian's redis 7.0
# and nginx 1.22 instead of the tagged versions, no apk. Every image carries the
# label rncp.stand-in=debian-bookworm so tests can say what they ran on.
#
# Usage: scripts/docker/stand-in-images.sh [--force]
#   --force     rebuild tags that already exist (the rootfs cache is kept)
# Environment:
#   STAND_IN_CACHE   where the rootfs tarball is kept (default /var/cache/rncp-stand-ins)
#   DEBIAN_MIRROR    Debian mirror (default: the one apt uses on this host)
set -euo pipefail

force=
case "${1:-}" in
--force) force=1 ;;
"") ;;
*)
	echo "usage: $0 [--force]" >&2
	exit 2
	;;
esac

[ "$(id -u)" = 0 ] || {
	echo "stand-in-images: needs root (debootstrap, chroot)" >&2
	exit 1
}
for tool in docker debootstrap; do
	command -v "$tool" >/dev/null || {
		echo "stand-in-images: $tool is missing" >&2
		exit 1
	}
done

cache="${STAND_IN_CACHE:-/var/cache/rncp-stand-ins}"
suite=bookworm
label="rncp.stand-in=debian-$suite"
mkdir -p "$cache"

log() { printf '[stand-in] %s\n' "$*"; }

# The mirror apt already uses here (deb822 .sources or one-line format).
host_mirror() {
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		uri=$(awk -v s="$suite" '
			/^URIs:/ { u = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
			/^$/ { if (ok && u ~ /debian\/?$/) { print u; exit } ok = 0; u = "" }
			END { if (ok && u ~ /debian\/?$/) print u }' "$f" | head -n1)
		[ -n "$uri" ] && {
			echo "$uri"
			return
		}
	done
	uri=$(grep -hsE "^deb +[^ ]*debian/? +$suite( |$)" /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
		awk '{ print $2; exit }')
	echo "${uri:-http://deb.debian.org/debian}"
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# --- the Debian rootfs, made once and kept as a tarball ---------------------
base="$cache/$suite-minbase.tar"
if [ ! -s "$base" ]; then
	mirror="${DEBIAN_MIRROR:-$(host_mirror)}"
	log "debootstrap --variant=minbase $suite from $mirror"
	work=$(mktemp -d "$cache/rootfs.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	debootstrap --variant=minbase --include=ca-certificates "$suite" "$work" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
		{
			tail -n 20 "$cache/debootstrap.log" >&2
			exit 1
		}
	rm -rf "$work"/var/cache/apt/archives/*.deb "$work"/var/lib/apt/lists/*
	tar -C "$work" -cf "$base.tmp" .
	mv "$base.tmp" "$base"
	rm -rf "$work"
	trap - EXIT
fi

# A fresh rootfs from the tarball, with Debian packages and the host's CAs.
rootfs_with() {
	local root="$1"
	shift
	tar -C "$root" -xf "$base"
	# The image's / (mktemp made it 0700): every user must be able to traverse it.
	chmod 755 "$root"
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	# Nothing may start a daemon inside the chroot.
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"
	if [ $# -gt 0 ]; then
		chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -c \
			"apt-get -o APT::Sandbox::User=root -o Dpkg::Use-Pty=0 update -qq && apt-get -o APT::Sandbox::User=root -o Dpkg::Use-Pty=0 install -y -qq --no-install-recommends $*" >>"$cache/apt.log" 2>&1
	fi
	if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
		mkdir -p "$root/usr/local/share/ca-certificates"
		cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
		chroot "$root" update-ca-certificates >/dev/null 2>&1
	fi
	chroot "$root" apt-get clean
	rm -rf "$root"/var/lib/apt/lists/* "$root/usr/sbin/policy-rc.d"
	: >"$root/etc/resolv.conf"
}

# build TAG PREPARE [docker import --change …]: PREPARE fills the rootfs.
build() {
	local tag="$1" prepare="$2"
	shift 2
	if [ -z "$force" ] && image_exists "$tag"; then
		log "$tag exists (--force rebuilds it)"
		return
	fi
	local started=$SECONDS root
	root=$(mktemp -d "$cache/image.XXXXXX")
	trap 'rm -rf "$root"' EXIT
	"$prepare" "$root"
	local changes=() c
	for c in "LABEL $label" "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "$@"; do changes+=(--change "$c"); done
	tar -C "$root" -c . | docker import "${changes[@]}" - "$tag" >/dev/null
	rm -rf "$root"
	trap - EXIT
	log "$tag built in $((SECONDS - started)) s"
}

# --- node:24-alpine ----------------------------------------------------------
node_bin=$(node -p process.execPath)
node_version=$("$node_bin" --version)
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
case "$node_version" in v24.*) ;; *)
	echo "stand-in-images: node 24 needed on the host, found $node_version" >&2
	exit 1
	;;
esac

prepare_node() {
	local root="$1"
	rootfs_with "$root" wget
	install -m 755 "$node_bin" "$root/usr/local/bin/node"
	mkdir -p "$root/usr/local/lib/node_modules"
	cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
	ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
	ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
	# As in the official image: user and group `node`, uid/gid 1000.
	chroot "$root" groupadd --gid 1000 node
	chroot "$root" useradd --uid 1000 --gid node --shell /bin/sh --create-home node
}
build node:24-alpine prepare_node \
	"ENV NODE_VERSION=${node_version#v}" \
	"ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt" \
	'CMD ["node"]'

# --- redis:7-alpine ----------------------------------------------------------
prepare_redis() {
	local root="$1"
	rootfs_with "$root" redis-server
	mkdir -p "$root/data"
	chroot "$root" chown redis:redis /data
	# The official image's entrypoint turns protected mode off when no config
	# file or --protected-mode is given: other containers must be able to connect.
	cat >"$root/usr/local/bin/docker-entrypoint.sh" <<-'EOF'
		#!/bin/sh
		set -e
		if [ "${1#-}" != "$1" ]; then set -- redis-server "$@"; fi
		if [ "$1" = redis-server ]; then
			case " $* " in *" --protected-mode "*) ;; *) set -- "$@" --protected-mode no ;; esac
		fi
		exec "$@"
	EOF
	chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
}
build redis:7-alpine prepare_redis \
	"WORKDIR /data" "USER redis" "VOLUME /data" "EXPOSE 6379" \
	'ENTRYPOINT ["docker-entrypoint.sh"]' 'CMD ["redis-server"]'

# --- nginx:1.28-alpine -------------------------------------------------------
prepare_nginx() {
	local root="$1"
	rootfs_with "$root" nginx wget
	# The official layout: only conf.d/*.conf inside http {}, logs to the container's output.
	rm -f "$root"/etc/nginx/sites-enabled/*
	ln -sf /dev/stdout "$root/var/log/nginx/access.log"
	ln -sf /dev/stderr "$root/var/log/nginx/error.log"
	mkdir -p "$root/etc/nginx/conf.d"
}
build nginx:1.28-alpine prepare_nginx \
	"EXPOSE 80" 'CMD ["nginx", "-g", "daemon off;"]'

log "stand-ins ready: node:24-alpine, redis:7-alpine, nginx:1.28-alpine (Debian $suite, glibc; not the upstream images)"
