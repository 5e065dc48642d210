#!/usr/bin/env bash
# Loads the published @ip-location-db/asn CSV files (npm pack) with asn-lookup and checks
# addresses whose owners are well known. Exit 77 (skipped) when npm cannot fetch the package.
# Usage: real_data_test.sh PATH/TO/asn-lookup
# Data: CC BY 4.0, RouteViews + DB-IP (+ NRO), see the package's LICENSE files.
set -euo pipefail

lookup=${1:?usage: real_data_test.sh PATH/TO/asn-lookup}
work=$(mktemp -d "${TMPDIR:-/tmp}/portpath-asn-real.XXXXXX")
trap 'rm -rf "$work"' EXIT

if ! command -v npm >/dev/null 2>&1; then
  echo "SKIP: npm is not installed, cannot fetch @ip-location-db/asn"
  exit 77
fi
if ! (cd "$work" && timeout 300 npm pack --silent @ip-location-db/asn >npm.out 2>npm.err); then
  echo "SKIP: npm pack @ip-location-db/asn failed (no registry access?):"
  sed 's/^/  /' "$work/npm.err" | tail -5
  exit 77
fi
tarball=$(ls "$work"/ip-location-db-asn-*.tgz)
echo "fetched $(basename "$tarball")"
tar -xzf "$tarball" -C "$work" package/asn-ipv4.csv package/asn-ipv6.csv
wc -l "$work"/package/asn-ipv*.csv

failures=0
# expect ADDR ASN ORG-SUBSTRING (case-insensitive)
expect() {
  local addr=$1 asn=$2 org=$3 line
  line=$(grep -F -- "$addr " <<<"$out" | head -1)
  if [[ "$line" == "$addr AS$asn "* ]] && grep -qiF -- "$org" <<<"${line#"$addr AS$asn "}"; then
    echo "ok   $line"
  else
    echo "FAIL expected $addr AS$asn *$org*, got: ${line:-nothing}"
    failures=$((failures + 1))
  fi
}

addrs=(111.13.108.22 223.5.5.5 1.1.1.1 8.8.8.8 2400:3200::1 2001:4860:4860::8888
       2606:4700:4700::1111 2409:8000:100::1 192.0.2.1)
# Once as a directory-less comma list and once as the extracted directory.
for spec in "$work/package/asn-ipv4.csv,$work/package/asn-ipv6.csv" "$work/package"; do
  echo "== $spec"
  out=$("$lookup" "$spec" "${addrs[@]}")
  expect 111.13.108.22 9808 "China Mobile"
  expect 223.5.5.5 45102 "Alibaba"
  expect 1.1.1.1 13335 "Cloudflare"
  expect 8.8.8.8 15169 "Google"
  expect 2400:3200::1 37963 "Alibaba"
  expect 2001:4860:4860::8888 15169 "Google"
  expect 2606:4700:4700::1111 13335 "Cloudflare"
  expect 2409:8000:100::1 9808 "China Mobile"
  # A documentation address belongs to nobody.
  if grep -qx -- "192.0.2.1 - -" <<<"$out"; then echo "ok   192.0.2.1 - -"; else
    echo "FAIL 192.0.2.1 should miss: $(grep -F 192.0.2.1 <<<"$out")"; failures=$((failures + 1)); fi
done

if ((failures > 0)); then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all real-data checks passed"
