// Formatting and counting of user-facing errors (see Diagnostics.h).
#include "frontend/Diagnostics.h"
#include "ir/Support.h"

#include <algorithm>

namespace dlc {

std::shared_ptr<const std::string> DiagEngine::addFile(const std::string &path,
                                                      const std::string &text) {
  auto name = std::make_shared<const std::string>(path);
  files_[name.get()] = {name, text};
  return name;
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
  return src + "\n" + caret + "^\n";
}

void DiagEngine::emit(const SourceLoc &loc, const char *severity,
                      const std::string &msg) {
  out_ << (loc.known() ? loc.str() : std::string("<unknown>")) << ": " << severity
       << ": " << msg << "\n"
       << excerpt(loc);
}

void DiagEngine::error(const SourceLoc &loc, const std::string &message,
                       const std::vector<DiagNote> &notes) {
  if (errors_ >= limit_)
    throw CompileError("too many errors");
  ++errors_;
  emit(loc, "error", message);
  for (const DiagNote &n : notes)
    emit(n.loc, "note", n.message);
  if (errors_ == limit_) {
    out_ << "error: too many errors emitted (" << limit_ << "), stopping now\n";
    throw CompileError("too many errors");
  }
}

void DiagEngine::warning(const SourceLoc &loc, const std::string &message,
                         const std::vector<DiagNote> &notes) {
  ++warnings_;
  emit(loc, "warning", message);
  for (const DiagNote &n : notes)
    emit(n.loc, "note", n.message);
}

void DiagEngine::fileError(const std::string &path, const std::string &message) {
  ++errors_;
  out_ << path << ": error: " << message << "\n";
}

static size_t editDistance(const std::string &a, const std::string &b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string closestName(const std::string &name,
                        const std::vector<std::string> &candidates) {
  // Short names get one edit of slack, longer ones two: "lr" must not suggest "eps".
  size_t best = name.size() <= 3 ? 1 : 2;
  std::string found;
  for (const std::string &c : candidates) {
    size_t d = editDistance(name, c);
    if (d <= best && d < std::max(name.size(), c.size()) && (found.empty() || d < best)) {
      best = d;
      found = c;
    }
  }
  return found;
}

} // namespace dlc
