#!/usr/bin/env bash
# Fetches the public IP-to-ASN data portpath ships in its image: the npm
# package @ip-location-db/asn (RouteViews + DB-IP, CC BY 4.0), pinned by
# version and checked against its registry integrity hash. Writes into OUT_DIR:
#   asn-ipv4.csv, asn-ipv6.csv   (what `asn_db: OUT_DIR` / --asn-db OUT_DIR reads)
#   *LICENSE*, MODIFICATIONS, NOTICE  (licence texts, changes, the attribution CC BY asks for)
# Tarballs are cached in $PORTPATH_CACHE (default /var/cache/portpath) so a
# rebuild does not download again. Usage: scripts/fetch-asn-data.sh OUT_DIR
set -euo pipefail
PACKAGE=@ip-location-db/asn
VERSION=2.3.2026061719
INTEGRITY=sha512-PpqYi7wyEyWwunXBtl+y3Vi403SvNywotWwvmiYCOUtE0SVol/Sf492Ee+eErEznmGapxEQB2SAfrpXuZ9a+vQ==

out=${1:?usage: fetch-asn-data.sh OUT_DIR}
cache=${PORTPATH_CACHE:-/var/cache/portpath}/asn
tarball="$cache/ip-location-db-asn-$VERSION.tgz"
mkdir -p "$cache" "$out"
if [[ ! -s $tarball ]]; then
  command -v npm >/dev/null || { echo "fetch-asn-data: npm is needed" >&2; exit 1; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null)
  mv "$tmp"/*.tgz "$tarball"
fi
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [[ $actual != "$INTEGRITY" ]]; then
  echo "fetch-asn-data: $tarball does not match the pinned integrity ($actual)" >&2
  rm -f "$tarball"
  exit 1
fi
tar -xzf "$tarball" -C "$out" --strip-components=1 --wildcards \
  'package/asn-ipv4.csv' 'package/asn-ipv6.csv' 'package/*LICENSE*' 'package/MODIFICATIONS'
cat >"$out/NOTICE" <<NOTICE
IP-to-ASN data: $PACKAGE $VERSION (https://www.npmjs.com/package/$PACKAGE),
from the ip-location-db project, built from RouteViews and DB-IP data.
Licensed under the Creative Commons Attribution 4.0 International licence
(CC BY 4.0, https://creativecommons.org/licenses/by/4.0/); the licence and
attribution texts of the sources are in the *LICENSE* files beside this one,
and what ip-location-db changed in them in MODIFICATIONS. portpath uses the
files as published. IP to ASN data by DB-IP (https://db-ip.com), RouteViews
(https://www.routeviews.org) and the NRO (https://www.nro.net).
NOTICE
echo "fetch-asn-data: $PACKAGE $VERSION in $out ($(wc -l <"$out/asn-ipv4.csv") IPv4 and $(wc -l <"$out/asn-ipv6.csv") IPv6 ranges)"
