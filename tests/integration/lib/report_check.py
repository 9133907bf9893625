#!/usr/bin/env python3
"""report_check.py DOM NETLOG CHROMIUM_LOG — what headless Chromium made of
a kaudit HTML report, one `key value` line each, for forensics.sh:

  summary.KEY N      each number of the summary table (data-key cells)
  bars.ID N          <rect class="bar"> elements of chart ID with a positive height
  sum.ID N           the sum of their data-n values
  elements.img N     <img>, <script>, <iframe>, <object>, <embed>, <link> and
  elements.script N  <base> elements in the rendered DOM (the report has none)
  ...
  console N          console messages the page produced (CSP violations included)
  requests N         network requests the page made (Chromium's own ones, whose
                     initiator is "not an origin", are not the page's)
  request URL        each of them
  text.hostile N     times the hostile user name shows as text
"""
import html.parser
import json
import re
import sys

HOSTILE = "<img src=https://evil.example/x onerror=alert(1)>|`#=cmd"
ACTIVE = ("img", "script", "iframe", "object", "embed", "link", "base", "frame", "audio", "video")


class Dom(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.summary = {}
        self.key = None
        self.bars = {}
        self.sums = {}
        self.svg = None
        self.elements = {k: 0 for k in ACTIVE}
        self.text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in self.elements:
            self.elements[tag] += 1
        if tag == "svg":
            self.svg = a.get("id", "?")
        if tag == "rect" and "bar" in (a.get("class") or "").split() and self.svg:
            if float(a.get("height", "0")) > 0 and float(a.get("width", "0")) > 0:
                self.bars[self.svg] = self.bars.get(self.svg, 0) + 1
                self.sums[self.svg] = self.sums.get(self.svg, 0) + int(a.get("data-n", "0"))
        if tag == "td" and "data-key" in a:
            self.key = a["data-key"]

    def handle_endtag(self, tag):
        if tag == "svg":
            self.svg = None
        if tag == "td":
            self.key = None

    def handle_data(self, data):
        if self.key is not None:
            self.summary[self.key] = self.summary.get(self.key, "") + data
        self.text.append(data)


def main():
    dom = Dom()
    with open(sys.argv[1], encoding="utf-8") as f:
        dom.feed(f.read())
    for k, v in sorted(dom.summary.items()):
        print(f"summary.{k} {v.strip()}")
    for k in sorted(dom.bars):
        print(f"bars.{k} {dom.bars[k]}")
        print(f"sum.{k} {dom.sums[k]}")
    for k, v in sorted(dom.elements.items()):
        print(f"elements.{k} {v}")
    print(f"text.hostile {''.join(dom.text).count(HOSTILE)}")

    with open(sys.argv[3], encoding="utf-8", errors="replace") as f:
        print(f"console {sum(1 for line in f if re.search(r':CONSOLE[(:]', line))}")

    urls = set()
    with open(sys.argv[2], encoding="utf-8") as f:
        text = f.read()
    # Chromium may stop before closing the JSON; the events are what counts.
    try:
        events = json.loads(text)["events"]
    except (ValueError, KeyError):
        events = json.loads(text.rstrip().rstrip(",") + "]}")["events"]
    for e in events:
        p = e.get("params") or {}
        url = p.get("url")
        if url and "initiator" in p and p["initiator"] != "not an origin":
            if not url.startswith(("file:", "data:")):
                urls.add(url)
    print(f"requests {len(urls)}")
    for u in sorted(urls):
        print(f"request {u}")


main()
