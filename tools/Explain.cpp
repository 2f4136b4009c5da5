#include "tools/Explain.h"

#include "frontend/Frontend.h"
#include "ir/BufferIR.h"
#include "ir/Dot.h"
#include "ir/Printer.h"
#include "passes/PassManager.h"

#include <fmt/format.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace dlc {

namespace {

std::string escape(const std::string &s) {
  std::string out;
  for (char c : s) {
    switch (c) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&quot;"; break;
    default: out += c;
    }
  }
  return out;
}

std::vector<std::string> splitLines(const std::string &text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

// A DSL line as every view names it: "examples/mnist_mlp.dl:12".
std::string lineKey(const std::string &file, int line) { return fmt::format("{}:{}", file, line); }

// One line of a view: its text, and the DSL lines it came from.
std::string viewLine(const std::string &text, const std::set<std::string> &locs) {
  if (locs.empty())
    return fmt::format("<div class=\"l\">{}</div>", escape(text));
  return fmt::format("<div class=\"l\" data-locs=\"{}\">{}</div>",
                     escape(fmt::format("{}", fmt::join(locs, " "))), escape(text));
}

// Where each value of the module came from, by its name (`%name` in the
// IR and fused views, buffer names in the memory plan).
using LocsByName = std::map<std::string, std::set<std::string>>;

LocsByName locsOf(const Function &f) {
  LocsByName out;
  for (const auto &n : f.nodes)
    if (n->loc.known())
      out[n->name].insert(lineKey(*n->loc.file, n->loc.line));
  return out;
}

// An IR line's own location ("... @prelude.dl:18:9"), else the location of
// the value it defines.
std::set<std::string> irLineLocs(const std::string &line, const LocsByName &names) {
  static const std::regex at(R"re(@(\S+):(\d+):\d+)re");
  static const std::regex def(R"re(^\s*%([^\s=]+) =)re");
  std::smatch m;
  if (std::regex_search(line, m, at))
    return {lineKey(m[1], std::stoi(m[2]))};
  if (std::regex_search(line, m, def))
    if (auto it = names.find(m[1]); it != names.end())
      return it->second;
  return {};
}

std::string textView(const std::string &text, const LocsByName &names) {
  std::string out;
  for (const std::string &line : splitLines(text))
    out += viewLine(line, irLineLocs(line, names));
  return out;
}

// All functions' names together: the graph IR's dumps cover every entry.
LocsByName moduleLocs(const Module &m) {
  LocsByName all;
  for (const auto &f : m.functions)
    for (auto &[name, locs] : locsOf(*f))
      all[name].insert(locs.begin(), locs.end());
  return all;
}

// A kernel's DSL lines, from its nodes.
std::set<std::string> kernelLocs(const Kernel &k) {
  std::set<std::string> locs;
  for (const auto *group : {&k.hoisted, &k.prologue, &k.nodes})
    for (const Node *n : *group)
      if (n->loc.known())
        locs.insert(lineKey(*n->loc.file, n->loc.line));
  return locs;
}

// `--emit=fused`, with each kernel's header line carrying all its lines.
std::string fusedView(const Function &f) {
  LocsByName names = locsOf(f);
  std::string out;
  size_t k = 0;
  static const std::regex header(R"re(^  k(\d+): )re");
  for (const std::string &line : splitLines(printFused(f))) {
    std::smatch m;
    if (std::regex_search(line, m, header) && (k = std::stoul(m[1])) < f.plan.kernels.size())
      out += viewLine(line, kernelLocs(f.plan.kernels[k]));
    else
      out += viewLine(line, irLineLocs(line, names));
  }
  return out;
}

// The memory plan as a picture: each arena buffer a rectangle, across the
// steps it is live and over the bytes it holds.
std::string memoryPicture(const Function &f) {
  const Plan &p = f.plan;
  if (!p.planned || p.arenaBytes == 0)
    return "<p class=\"note\">No arena: every value of this entry lives in the caller's "
           "buffers or the variables.</p>";
  const double width = 640, height = 220, left = 8, top = 8;
  const int steps = (int)p.calls.size() + 1; // copies run the step after the last call
  const double stepW = width / steps;
  LocsByName names = locsOf(f);
  std::string svg = fmt::format(
      "<svg class=\"mem\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\">"
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" class=\"arena\"/>",
      width + 2 * left, height + 2 * top + 14, left, top, width, height);
  auto out = std::back_inserter(svg);
  for (const Buffer &b : p.buffers) {
    if (b.kind != BufferKind::Arena || b.first < 0)
      continue;
    const double x = left + b.first * stepW, w = (b.last - b.first + 1) * stepW;
    const double y = top + height * double(b.offset) / double(p.arenaBytes);
    const double h = std::max(1.0, height * double(b.type.bytes()) / double(p.arenaBytes));
    auto locs = names.find(b.name);
    fmt::format_to(out,
                   "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
                   "class=\"buf\"{}><title>{} {} bytes at {}, steps {}..{}</title></rect>",
                   x, y, w, h,
                   locs == names.end()
                       ? std::string()
                       : fmt::format(" data-locs=\"{}\"",
                                     escape(fmt::format("{}", fmt::join(locs->second, " ")))),
                   escape(b.name), b.type.bytes(), b.offset, b.first, b.last);
  }
  fmt::format_to(out,
                 "<text x=\"{}\" y=\"{}\">arena {} bytes (lower bound {}, without reuse {}); "
                 "steps left to right, offsets top to bottom</text></svg>",
                 left, height + 2 * top + 10, p.arenaBytes, p.lowerBound, p.withoutReuse);
  return svg;
}

// The assembly of each kernel, each instruction with the DSL line of its
// .loc directive. Directives go; labels of blocks stay for the jumps.
std::string asmView(const std::string &assembly) {
  static const std::regex file5(R"re(^\s*\.file\s+(\d+)\s+"[^"]*"\s+"([^"]+)")re");
  static const std::regex file4(R"re(^\s*\.file\s+(\d+)\s+"([^"]+)"\s*$)re");
  static const std::regex loc(R"re(^\s*\.loc\s+(\d+)\s+(\d+))re");
  static const std::regex function(R"re(^([A-Za-z_][\w.$]*):)re");
  std::map<std::string, std::string> files;
  std::string current, out;
  bool inKernel = false;
  for (const std::string &line : splitLines(assembly)) {
    std::smatch m;
    if (std::regex_search(line, m, file5) || std::regex_search(line, m, file4)) {
      files[m[1]] = m[2];
      continue;
    }
    if (std::regex_search(line, m, loc)) {
      auto f = files.find(m[1]);
      int l = std::stoi(m[2]);
      current = f == files.end() || l == 0 ? "" : lineKey(f->second, l);
      continue;
    }
    if (std::regex_search(line, m, function)) {
      std::string name = m[1];
      // Kernels are "<model>__<entry>.k<N>.<node>"; entries, parts and the C
      // API are calls and wrappers, not computation.
      inKernel = name.find("__") != std::string::npos && name.find(".k") != std::string::npos &&
                 name.find(".part") == std::string::npos;
      current.clear();
      if (inKernel)
        out += fmt::format("<div class=\"fn\">{}</div>", escape(name));
      continue;
    }
    if (!inKernel || line.empty())
      continue;
    std::string trimmed = line.substr(line.find_first_not_of(" \t"));
    if (trimmed[0] == '.' && trimmed.find(':') == std::string::npos)
      continue; // a directive
    if (trimmed[0] == '#')
      continue;
    out += viewLine(line, current.empty() ? std::set<std::string>{} : std::set{current});
  }
  return out;
}

// Graphviz lays out a few hundred nodes in a second, an unrolled LSTM's
// thousands in minutes: beyond this the page says so instead.
constexpr size_t kMaxGraphNodes = 600;

size_t nodeCount(const Module &m) {
  size_t n = 0;
  for (const auto &f : m.functions)
    n += f->nodes.size();
  return n;
}

// Graphviz's SVG of the graph, each node tagged with its DSL line; "" when
// Graphviz is not installed or takes too long.
std::string graphSvg(const Module &m) {
  // Graphviz reads the DOT from a file of our own: mkstemp's template
  // (its XXXXXX become a unique name), in $TMPDIR as the AOT path does.
  const char *tmp = getenv("TMPDIR");
  std::string pattern =
      fmt::format("{}/dlc-explain-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  std::vector<char> dotIn(pattern.begin(), pattern.end());
  dotIn.push_back('\0');
  int fd = mkstemp(dotIn.data());
  if (fd < 0)
    return "";
  std::string dot = toDot(m);
  bool written = write(fd, dot.data(), dot.size()) == (ssize_t)dot.size();
  close(fd);
  std::string svg;
  if (written) {
    std::string cmd = fmt::format("timeout 60 dot -Tsvg '{}' 2>/dev/null", dotIn.data());
    if (FILE *p = popen(cmd.c_str(), "r")) {
      std::array<char, 65536> buf;
      for (size_t n; (n = fread(buf.data(), 1, buf.size(), p)) > 0;)
        svg.append(buf.data(), n);
      if (pclose(p) != 0)
        svg.clear();
    }
  }
  unlink(dotIn.data());
  size_t start = svg.find("<svg");
  if (start == std::string::npos)
    return "";
  svg = svg.substr(start);
  // Node ids are "f<function>_n<node>" (ir/Dot.cpp): tag each node's group.
  std::map<std::string, std::string> locs;
  for (size_t fi = 0; fi < m.functions.size(); ++fi)
    for (size_t i = 0; i < m.functions[fi]->nodes.size(); ++i) {
      const Node &n = *m.functions[fi]->nodes[i];
      if (n.loc.known())
        locs[fmt::format("f{}_n{}", fi, i)] = lineKey(*n.loc.file, n.loc.line);
    }
  static const std::regex node(R"re(<g id="(node\d+)" class="node">\s*<title>([^<]+)</title>)re");
  std::string tagged;
  auto last = svg.cbegin();
  for (std::sregex_iterator it(svg.begin(), svg.end(), node), end; it != end; ++it) {
    const std::smatch &m = *it;
    tagged.append(last, m[0].first);
    auto l = locs.find(m[2]);
    tagged += l == locs.end()
                  ? m[0].str()
                  : fmt::format("<g id=\"{}\" class=\"node\" data-locs=\"{}\"><title>{}</title>",
                                m[1].str(), escape(l->second), m[2].str());
    last = m[0].second;
  }
  tagged.append(last, svg.cend());
  return tagged;
}

std::string sourceView(const std::string &file, const std::string &text) {
  std::string out;
  int n = 0;
  for (const std::string &line : splitLines(text)) {
    std::string key = lineKey(file, ++n);
    out += fmt::format("<div class=\"l src\" id=\"{}\" data-locs=\"{}\"><span class=\"n\">{}"
                       "</span>{}</div>",
                       escape("L:" + key), escape(key), n, escape(line));
  }
  return out;
}

const char *kStyle = R"(
body{margin:0;font:13px/1.35 system-ui,sans-serif;display:flex;height:100vh}
#dsl{width:38%;overflow:auto;border-right:1px solid #ccc;padding:8px}
#views{flex:1;display:flex;flex-direction:column;min-width:0}
#tabs{border-bottom:1px solid #ccc;padding:4px;display:flex;flex-wrap:wrap;gap:2px}
#tabs button{font:inherit;border:1px solid #bbb;background:#f6f6f6;padding:2px 8px;cursor:pointer}
#tabs button.on{background:#dde7f3;border-color:#6d8fb3}
#tabs button.has{font-weight:bold}
.panel{display:none;overflow:auto;flex:1;padding:8px}
.panel.on{display:block}
.l{font:12px/1.35 monospace;white-space:pre;cursor:pointer}
.l:hover{background:#f0f0f0}
.src .n{display:inline-block;width:3.5em;color:#999;text-align:right;margin-right:1em}
.hl,.l.hl:hover{background:#ffe58a}
g.hl polygon,g.hl ellipse,g.hl path{fill:#ffe58a}
rect.arena{fill:#fafafa;stroke:#999}
rect.buf{fill:#9fc5e8;stroke:#3d85c6;cursor:pointer}
rect.buf.hl{fill:#ffd54f;stroke:#b8860b}
.fn{font:bold 12px monospace;margin-top:10px;color:#3d5a80}
h2{font-size:14px;margin:12px 0 4px}
.note{color:#666}
)";

// A click on any line (or buffer, or graph node) selects its first DSL line
// and highlights everything that came from it; a click outside the DSL
// scrolls the DSL to that line. Each tab says how many highlights it holds.
const char *kScript = R"(
function select(loc, fromDsl) {
  document.querySelectorAll('.hl').forEach(e => e.classList.remove('hl'));
  const hits = new Map();
  document.querySelectorAll('[data-locs]').forEach(e => {
    if (!e.getAttribute('data-locs').split(' ').includes(loc)) return;
    e.classList.add('hl');
    const p = e.closest('.panel');
    if (p) hits.set(p.id, (hits.get(p.id) || 0) + 1);
  });
  document.querySelectorAll('#tabs button').forEach(b => {
    const n = hits.get(b.dataset.panel) || 0;
    b.textContent = b.dataset.title + (n ? ' (' + n + ')' : '');
    b.classList.toggle('has', n > 0);
  });
  const src = document.getElementById('L:' + loc);
  if (src && !fromDsl) src.scrollIntoView({block: 'center'});
  const open = document.querySelector('.panel.on');
  const first = open && open.querySelector('.hl');
  if (first && fromDsl) first.scrollIntoView({block: 'center'});
  document.body.dataset.selected = loc;
  history.replaceState(null, '', '#' + encodeURIComponent(loc));
}
function show(id) {
  document.querySelectorAll('.panel').forEach(p => p.classList.toggle('on', p.id === id));
  document.querySelectorAll('#tabs button').forEach(b => b.classList.toggle('on', b.dataset.panel === id));
}
document.addEventListener('click', ev => {
  const b = ev.target.closest('#tabs button');
  if (b) { show(b.dataset.panel); return; }
  const e = ev.target.closest('[data-locs]');
  if (e) select(e.getAttribute('data-locs').split(' ')[0], !!e.closest('#dsl'));
});
show(document.querySelector('#tabs button').dataset.panel);
// page.html#mnist_mlp.dl:12 opens with that line selected: a link can point
// at a line, and a selection can be shared.
if (location.hash.length > 1) select(decodeURIComponent(location.hash.slice(1)), false);
)";

} // namespace

std::string explainPage(const ExplainInput &in, Module &m, std::string &error) {
  struct Panel {
    std::string id, title, html;
  };
  std::vector<Panel> panels;
  panels.push_back({"p-ir", "frontend", textView(printModule(m), moduleLocs(m))});

  PassManager pm;
  addDefaultPipeline(pm, in.pipeline);
  for (const Pass &p : pm.passes()) {
    bool changed = p.run(m);
    std::string text = p.print ? p.print(m) : printModule(m);
    panels.push_back({"p-" + p.name, p.name,
                      (changed ? "" : "<p class=\"note\">(unchanged by this pass)</p>") +
                          textView(text, moduleLocs(m))});
  }
  std::string fused, memory;
  for (const auto &f : m.functions) {
    fused += fmt::format("<h2>entry {}</h2>{}", escape(f->name), fusedView(*f));
    memory += fmt::format("<h2>entry {}</h2>{}", escape(f->name), memoryPicture(*f));
  }
  panels.push_back({"p-kernels", "kernels", fused});
  panels.push_back({"p-memory", "memory", memory});

  CodegenOptions codegen = in.codegen;
  codegen.lineTables = true;
  std::string assembly;
  if (!emitAssembly(m, codegen, assembly, error))
    return "";
  panels.push_back({"p-asm", "asm", asmView(assembly)});
  const size_t nodes = nodeCount(m);
  std::string graph = nodes <= kMaxGraphNodes ? graphSvg(m) : "";
  panels.push_back(
      {"p-graph", "graph",
       nodes > kMaxGraphNodes
           ? fmt::format("<p class=\"note\">The graph has {} nodes, too many to lay out "
                         "here; `dlc {} --emit=dot` writes it for Graphviz.</p>",
                         nodes, escape(in.path))
       : graph.empty() ? "<p class=\"note\">Graphviz's dot was not found (or gave up): "
                         "install graphviz to see the graph here.</p>"
                       : graph});

  std::string page = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>dlc explain: {0}</title><style>{1}</style></head><body>\n"
      "<div id=\"dsl\"><h2>{0}</h2>{2}<h2>{3} (the layers)</h2>{4}</div>\n"
      "<div id=\"views\"><div id=\"tabs\">",
      escape(in.path), kStyle, sourceView(in.path, in.source), preludeName(),
      sourceView(preludeName(), preludeSource()));
  auto out = std::back_inserter(page);
  for (const Panel &p : panels)
    fmt::format_to(out, "<button data-panel=\"{0}\" data-title=\"{1}\">{1}</button>",
                   escape(p.id), escape(p.title));
  page += "</div>\n";
  for (const Panel &p : panels)
    fmt::format_to(out, "<div class=\"panel\" id=\"{}\">{}</div>\n", escape(p.id), p.html);
  fmt::format_to(out, "</div>\n<script>{}</script>\n</body></html>\n", kScript);
  return page;
}

} // namespace dlc
