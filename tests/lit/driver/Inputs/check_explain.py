"""Checks a page of `dlc explain` the way a click would use it: every
DSL line a view points at exists in the DSL pane, a chosen line leads to
IR, kernel, memory, assembly and graph elements, and the page loads
nothing from outside. Prints what it found, one fact per line."""
import html.parser
import sys


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.panel = None
        self.depth = 0
        self.src_lines = set()
        self.links = {}  # panel id -> list of locs lists
        self.tabs = []
        self.external = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "img", "iframe") and "src" in a:
            self.external.append(tag + " " + a["src"])
        if tag == "link":
            self.external.append("link " + a.get("href", ""))
        if tag == "button" and "data-panel" in a:
            self.tabs.append(a["data-title"])
        if tag == "div" and a.get("class") == "panel":
            self.panel, self.depth = a["id"], 0
        elif tag == "div" and self.panel:
            self.depth += 1
        if "data-locs" in a:
            locs = a["data-locs"].split(" ")
            if "src" in (a.get("class") or "").split():
                self.src_lines.update(locs)
            elif self.panel:
                self.links.setdefault(self.panel, []).append(locs)

    def handle_endtag(self, tag):
        if tag == "div" and self.panel:
            if self.depth == 0:
                self.panel = None
            else:
                self.depth -= 1


page = Page()
page.feed(open(sys.argv[1], encoding="utf-8").read())
chosen = sys.argv[2]
print("tabs:", " ".join(page.tabs))
print("external resources:", len(page.external), page.external[:3])
dangling = sorted({l for lists in page.links.values() for locs in lists for l in locs
                   if l not in page.src_lines})
print("links to no DSL line:", len(dangling), dangling[:5])
print("DSL line", chosen, "exists:", chosen in page.src_lines)
for panel in sorted(page.links):
    hits = sum(1 for locs in page.links[panel] if chosen in locs)
    print(f"{panel}: {hits} elements from {chosen}" if hits else f"{panel}: none")
