// Formatting and counting of user-facing errors (see Diagnostics.h).
#include "frontend/Diagnostics.h"
#include "ir/Support.h"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

namespace dlc {

std::shared_ptr<const std::string> DiagEngine::addFile(const std::string &path,
                                                      const std::string &text) {
  auto name = std::make_shared<const std::string>(path);
  addFile(name, text);
  return name;
}

void DiagEngine::addFile(const std::shared_ptr<const std::string> &name,
                         const std::string &text) {
  files_[name.get()] = {name, text};
  fileOrder_.push_back(name.get());
}

std::string DiagEngine::excerpt(const SourceLoc &loc) const {
  if (!loc.known())
    return "";
  auto it = files_.find(loc.file.get());
  if (it == files_.end())
    return "";
  const std::string &text = it->second.second;
  size_t start = 0;
  for (int line = 1; line < loc.line; ++line) {
    start = text.find('\n', start);
    if (start == std::string::npos)
      return "";
    ++start;
  }
  size_t end = text.find('\n', start);
  std::string src = text.substr(start, end == std::string::npos ? std::string::npos
                                                                 : end - start);
  if (!src.empty() && src.back() == '\r')
    src.pop_back();
  // Control bytes (NUL, escape) would garble a terminal; one space each keeps
  // the caret aligned because columns count bytes.
  for (char &c : src)
    if ((unsigned char)c < 0x20 && c != '\t')
      c = ' ';
  std::string caret;
  for (int i = 1; i < loc.col; ++i)
    caret += (size_t)(i - 1) < src.size() && src[i - 1] == '\t' ? '\t' : ' ';
  return fmt::format("{}\n{}^\n", src, caret);
}

std::string DiagEngine::format(const SourceLoc &loc, const char *severity,
                               const std::string &msg) const {
  return fmt::format("{}: {}: {}\n{}", loc.known() ? loc.str() : "<unknown>", severity, msg,
                     excerpt(loc));
}

void DiagEngine::add(const SourceLoc &loc, const char *severity, const std::string &message,
                     const std::vector<DiagNote> &notes) {
  Pending p{-1, loc.line, loc.col, format(loc, severity, message)};
  for (size_t k = 0; k < fileOrder_.size(); ++k)
    if (loc.known() && fileOrder_[k] == loc.file.get())
      p.file = (int)k;
  for (const DiagNote &n : notes)
    p.text += format(n.loc, "note", n.message);
  pending_.push_back(std::move(p));
}

void DiagEngine::flush() {
  std::stable_sort(pending_.begin(), pending_.end(), [](const Pending &a, const Pending &b) {
    return std::tie(a.file, a.line, a.col) < std::tie(b.file, b.line, b.col);
  });
  for (const Pending &p : pending_)
    out_ << p.text;
  pending_.clear();
  if (limitReached_)
    out_ << fmt::format("error: too many errors emitted ({}), stopping now\n", limit_);
  limitReached_ = false;
  out_.flush();
}

void DiagEngine::error(const SourceLoc &loc, const std::string &message,
                       const std::vector<DiagNote> &notes) {
  if (errors_ >= limit_)
    throw CompileError("too many errors");
  ++errors_;
  add(loc, "error", message, notes);
  if (errors_ == limit_) {
    limitReached_ = true;
    throw CompileError("too many errors");
  }
}

void DiagEngine::warning(const SourceLoc &loc, const std::string &message,
                         const std::vector<DiagNote> &notes) {
  ++warnings_;
  add(loc, "warning", message, notes);
}

void DiagEngine::fileError(const std::string &path, const std::string &message) {
  ++errors_;
  pending_.push_back({-1, 0, 0, fmt::format("{}: error: {}\n", path, message)});
}

// Damerau-Levenshtein distance in its optimal-string-alignment form: edits
// are insertions, deletions, substitutions and swaps of two neighbours
// ("desne" is one edit from "dense").
size_t editDistance(const std::string &a, const std::string &b) {
  // Three rows of the table: the swap looks two rows back.
  std::vector<size_t> before(b.size() + 1), prev(b.size() + 1), row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      row[j] = std::min({prev[j] + 1, row[j - 1] + 1,
                         prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        row[j] = std::min(row[j], before[j - 2] + 1);
    }
    std::swap(before, prev);
    std::swap(prev, row);
  }
  return prev[b.size()];
}

std::string closestName(const std::string &name,
                        const std::vector<std::string> &candidates) {
  // A third of the name may be wrong, at least one character: "tanh" is two
  // edits from "rank", which a reader would not call a typo of it. A name
  // that shares nothing with the candidate ("x" for "y") is no typo either.
  size_t limit = std::max<size_t>(1, name.size() / 3);
  size_t best = limit + 1;
  std::string found;
  for (const std::string &c : candidates) {
    if (c == name)
      continue;
    // Each edit changes the length by at most one, so a candidate whose
    // length differs by `best` or more cannot win; skipping it keeps an
    // unknown name in a large scope cheap.
    size_t lengthGap = c.size() > name.size() ? c.size() - name.size() : name.size() - c.size();
    if (lengthGap >= best)
      continue;
    size_t d = editDistance(name, c);
    if (d < best && d < std::max(name.size(), c.size())) {
      best = d;
      found = c;
    }
  }
  return found;
}

} // namespace dlc
