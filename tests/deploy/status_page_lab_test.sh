#!/usr/bin/env bash
# The status page in a real browser: portpath serve in the lab (with the lab's
# ASN data) watches an open port, a port dropped by an intranet router (hop 2)
# and one dropped by a carrier router (hop 5, AS64500). Headless Chromium loads
# `/` and its DOM, after the page's script ran, shows the blocked targets first
# and expanded, the blocked hop highlighted in the drawing with its address,
# class and AS, a ticket summary; a filter in the address narrows the list. A
# screenshot is kept: BUILD_DIR/test-artifacts/status-page.png.
# Usage: status_page_lab_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../lab/test_lib.sh"
command -v chromium >/dev/null || { echo "SKIP: chromium not found"; exit 77; }
lab_test_begin "$1"
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
artifacts="$BUILD/test-artifacts"
mkdir -p "$artifacts"
serve_pid=""
cleanup() {
  [[ -n $serve_pid ]] && kill "$serve_pid" 2>/dev/null || true
  wait $serve_pid 2>/dev/null || true
  lab_down "$LAB" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
in_lab() { ip netns exec "$LAB-c" "$@"; }

cat >"$work/portpath.yaml" <<EOF2
defaults: {interval: 2s, timeout: 1s}
asn_db: $root/tests/fixtures/asn/lab
targets:
  - {host: $LAB_TARGET4, ports: [80, 8443, 9443], labels: {site: lab}}
EOF2
lab_start_serve "$work/portpath.yaml" "$work/serve.log"
serve_pid=$SERVE_PID
url="http://127.0.0.1:$SERVE_PORT/"
for _ in $(seq 1 60); do in_lab curl -sf "${url}-/ready" >/dev/null && break; sleep 0.5; done
sleep 4  # a few rounds for the timeline

browser() {  # chromium headless inside the lab's client namespace
  in_lab chromium --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --disable-background-networking --disable-component-update --disable-sync --no-first-run \
    --hide-scrollbars --user-data-dir="$work/profile" --virtual-time-budget=4000 "$@" 2>>"$work/chromium.log"
}
browser --dump-dom "$url" >"$work/dom.html"
browser --window-size=1400,1100 --screenshot="$artifacts/status-page.png" "$url" >/dev/null
browser --dump-dom "${url}#q=8443" >"$work/dom-filtered.html"

python3 - "$work/dom.html" "$work/dom-filtered.html" <<'PY' >"$work/dom-checks.txt"
import html.parser, sys

class Dom(html.parser.HTMLParser):
    """A tiny DOM: elements with attributes, children and text."""
    def __init__(self):
        super().__init__()
        self.root = {"tag": "#root", "attrs": {}, "children": [], "text": ""}
        self.stack = [self.root]
    VOID = {"meta", "input", "br", "img", "link", "circle", "line", "rect", "path"}
    def handle_starttag(self, tag, attrs):
        el = {"tag": tag, "attrs": dict(attrs), "children": [], "text": ""}
        self.stack[-1]["children"].append(el)
        if tag not in self.VOID:
            self.stack.append(el)
    def handle_startendtag(self, tag, attrs):
        self.stack[-1]["children"].append({"tag": tag, "attrs": dict(attrs), "children": [], "text": ""})
    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i]["tag"] == tag:
                del self.stack[i:]
                break
    def handle_data(self, data):
        self.stack[-1]["text"] += data

def parse(path):
    d = Dom(); d.feed(open(path).read()); return d.root
def walk(el):
    yield el
    for c in el["children"]: yield from walk(c)
def text(el):
    return el["text"] + "".join(text(c) for c in el["children"])
def find(root, tag, **attrs):
    return [e for e in walk(root) if e["tag"] == tag and all(
        (v in e["attrs"].get(k.rstrip("_"), "").split()) if k.endswith("_") else e["attrs"].get(k) == v
        for k, v in attrs.items())]

dom = parse(sys.argv[1])
rows = find(dom, "details", class_="t")
order = [r["attrs"]["data-target"] for r in rows]
print("order\t" + " ".join(order))
def row(t): return next(r for r in rows if r["attrs"]["data-target"] == t)
for t in ("192.0.2.10:9443", "192.0.2.10:8443", "192.0.2.10:80"):
    r = row(t)
    blocked = find(r, "g", class_="blocked")
    print(f"{t}\topen={'open' in r['attrs']}\tblocked_ttl={blocked[0]['attrs'].get('data-ttl') if blocked else '-'}"
          f"\tsummary={' '.join(text(find(r, 'summary')[0]).split())}"
          f"\tticket={'Blocked hop:  hop' in ''.join(text(x) for x in find(r, 'textarea'))}"
          f"\ttimeline={len(find(r, 'rect'))}")
print("shown\t" + text(find(dom, "span", id="shown")[0]))
f = parse(sys.argv[2])
print("filtered\t" + " ".join(r["attrs"]["data-target"] for r in find(f, "details", class_="t") if "hidden" not in r["attrs"])
      + "\t" + text(find(f, "span", id="shown")[0]))
PY
sed 's/^/    /' "$work/dom-checks.txt"
field() { awk -F'\t' -v k="$1" '$1 == k' "$work/dom-checks.txt" | tr '\t' '\n' | sed -n "s/^$2=//p"; }
check "blocked targets first" "192.0.2.10:8443 192.0.2.10:9443 192.0.2.10:80" "$(awk -F'\t' '$1 == "order" {print $2}' "$work/dom-checks.txt")"
check "carrier-blocked target expanded" True "$(field 192.0.2.10:9443 open)"
check "... its drawing highlights hop 5" 5 "$(field 192.0.2.10:9443 blocked_ttl)"
check "... with address, class and AS" yes \
  "$(field 192.0.2.10:9443 summary | grep -q 'blocked after hop 5 198.51.100.18 (documentation, AS64500 Example Transit, Inc.)' && echo yes || echo "no: $(field 192.0.2.10:9443 summary)")"
check "... and a ticket summary naming the hop" True "$(field 192.0.2.10:9443 ticket)"
check "... and its recent rounds" yes "$( (( $(field 192.0.2.10:9443 timeline) >= 2 )) && echo yes || echo no)"
check "intranet-blocked target: hop 2, private" yes \
  "$(field 192.0.2.10:8443 summary | grep -q 'blocked after hop 2 10.0.1.2 (private)' && echo yes || echo no)"
check "open target collapsed" False "$(field 192.0.2.10:80 open)"
check "the page's script ran (filter count)" "3 of 3 targets shown" "$(awk -F'\t' '$1 == "shown" {print $2}' "$work/dom-checks.txt")"
check "a filter in the address (#q=8443) narrows the list" "192.0.2.10:8443	1 of 3 targets shown" \
  "$(awk -F'\t' '$1 == "filtered" {print $2 "\t" $3}' "$work/dom-checks.txt")"
check "screenshot kept ($artifacts/status-page.png)" yes \
  "$([[ $(stat -c %s "$artifacts/status-page.png" 2>/dev/null || echo 0) -gt 20000 ]] && echo yes || echo no)"
lab_test_end
