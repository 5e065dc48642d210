#!/usr/bin/env bash
# The built binary on bad input, as a user sees it: exit status 2 and a message
# that names the problem, before any probe is sent, and never a raw control byte
# on the terminal. Runs inside a network namespace of its own, so even a
# regression that did send something could not leave this host.
# Usage: cli_bad_input_test.sh PATH/TO/portpath
set -uo pipefail
PORTPATH=$1

if [[ -z ${PORTPATH_IN_NETNS:-} ]]; then
  for how in "unshare -n" "unshare -rn"; do
    if $how true 2>/dev/null; then
      PORTPATH_IN_NETNS=1 exec $how bash "$0" "$@"
    fi
  done
  echo "SKIP: cannot create a network namespace (unshare -n / -rn)"
  exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# run NAME EXPECTED_STATUS EXPECTED_TEXT ARGS...: EXPECTED_TEXT must appear in
# stdout+stderr, which must hold no control byte but newlines.
run() {
  local name=$1 want=$2 text=$3
  shift 3
  "$PORTPATH" "$@" >"$tmp/out" 2>&1
  local rc=$?
  local ok=1
  [[ $rc == "$want" ]] || ok=0
  grep -qF -- "$text" "$tmp/out" || ok=0
  # Anything but printable ASCII, newline, and UTF-8 we wrote ourselves.
  if LC_ALL=C grep -qP '[\x00-\x09\x0b-\x1f\x7f]' "$tmp/out"; then
    ok=0
    echo "  raw control bytes in the output of: $name"
  fi
  if ((ok)); then
    echo "ok   $name"
  else
    echo "FAIL $name: status $rc (want $want), output:"
    sed 's/^/    /' "$tmp/out" | cat -v
    failures=$((failures + 1))
  fi
}

# Host names follow RFC 1123, as in the config: getaddrinfo would read this as 127.0.0.1.
run "all-numeric host" 2 "'2130706433' is not a valid IPv4 address" trace 2130706433:80
run "short dotted IPv4" 2 "'127.1' is not a valid IPv4 address" trace 127.1:80
run "terminal escape in a host" 2 "contains a control character '\\x1b'" trace $'\e[2J\e]0;pwned\aevil.example:80'
run "underscore in a host" 2 "label 'db_1' contains '_'" trace db_1.example:80
run "port 0" 2 "port must be a number from 1 to 65535" trace example.com:0
run "IPv6 without brackets" 2 "write IPv6 targets in brackets" trace 2001:db8::1:443

# A binary targets file: file:line and escaped content (the start of the binary itself).
head -c 65536 "$PORTPATH" >"$tmp/binary"
run "binary targets file" 2 "$tmp/binary:1: not a line of text (control byte \\x7f at column 1" trace --targets-file "$tmp/binary"
run "endless targets file" 2 "/dev/zero: the targets file is larger than 16 MiB" trace --targets-file=/dev/zero
run "directory as targets file" 2 "cannot read the targets file: it is a directory" trace --targets-file "$tmp"
printf 'ok.example:80\n2130706433:443\n' >"$tmp/targets"
run "bad line of a targets file" 2 "$tmp/targets:2: '2130706433:443'" trace --targets-file "$tmp/targets"

# -s must be an address of this host: no spoofed SYNs.
run "foreign source address" 2 "--source: 192.0.2.77 is not an address of this host" trace -s 192.0.2.77 192.0.2.1:80
run "source not an address" 2 "--source: expects an IPv4 or IPv6 address, got 'example.com'" trace --source=example.com 192.0.2.1:80
run "unknown interface" 2 "--interface: no interface 'nosuchif0' on this host" trace -i nosuchif0 192.0.2.1:80

# Options: both spellings, the documented ranges, no std::exit in the parser.
run "value out of range (=)" 2 "--max-hops: expects a whole number from 1 to 255, got '256'" trace --max-hops=256 192.0.2.1:80
run "value out of range" 2 "--timeout: expects a duration from 10ms to 1m" trace -w 2m 192.0.2.1:80
run "unknown option" 2 "--bogus" trace --bogus 192.0.2.1:80
run "option without value" 2 "--port" trace 192.0.2.1 --port
run "escape in an unknown option" 2 "\\x1b[2J" trace $'--\e[2J' 192.0.2.1:80
run "-4 and -6" 2 "excludes" trace -4 -6 192.0.2.1:80
run "no targets" 2 "no targets; give HOST:PORT or --targets-file" trace -n
run "trace help" 0 "do not look up hop names" trace --help
run "serve help" 0 "--web.config.file" serve -h
run "serve without config" 2 "--config FILE is required" serve --web.listen-address=127.0.0.1:0
run "serve bad log level" 2 "--log.level: expects trace, debug, info, warn or error" serve --config.file=x --log.level=loud
run "serve empty user" 2 "--user: expects a user name or uid" serve --config x --user ""
# The config's source and interface are checked against this host as -s and -i are: exit 2,
# file:line:column, before any socket opens.
printf 'source: 192.0.2.77\ntargets:\n  - host: 192.0.2.1\n    port: 80\n' >"$tmp/foreign-source.yaml"
run "serve: foreign source in the config" 2 "$tmp/foreign-source.yaml:1:9: source: 192.0.2.77 is not an address of this host" serve --config "$tmp/foreign-source.yaml" --web.listen-address=127.0.0.1:0
printf 'interface: nosuchif0\ntargets:\n  - host: 192.0.2.1\n    port: 80\n' >"$tmp/no-interface.yaml"
run "serve: unknown interface in the config" 2 "$tmp/no-interface.yaml:1:12: interface: no interface 'nosuchif0' on this host" serve --config "$tmp/no-interface.yaml" --web.listen-address=127.0.0.1:0
run "unknown command" 2 "unknown command '\\x1b[2J'" $'\e[2J'

if ((failures)); then
  echo "$failures case(s) failed"
  exit 1
fi
echo "all cases passed"
