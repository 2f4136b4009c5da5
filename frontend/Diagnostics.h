// User-facing diagnostics in the clang format: "file:line:col: error: msg",
// the source line, a caret under the column, then any notes the same way.
// Warnings take the same form with "warning:" and do not stop compilation.
#pragma once

#include "ir/SourceLoc.h"

#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace dlc {

struct DiagNote {
  SourceLoc loc;
  std::string message;
};

class DiagEngine {
public:
  // Diagnostics are kept until flush() (or destruction), then printed to
  // `out` in source order: lowering finds a mistake in a function body when
  // the function is called, after the parser found those of later lines.
  // After `limit` errors a CompileError stops the run.
  explicit DiagEngine(std::ostream &out, size_t limit = 20)
      : out_(out), limit_(limit) {}
  ~DiagEngine() { flush(); }
  DiagEngine(const DiagEngine &) = delete;
  DiagEngine &operator=(const DiagEngine &) = delete;
  // Prints what was reported since the last flush, ordered by position.
  void flush();

  // Registers a file's text (for the source-line excerpt) and returns the
  // shared name every SourceLoc into that file uses. Files are told apart by
  // that pointer, not by path: a user's own file may be named prelude.dl.
  std::shared_ptr<const std::string> addFile(const std::string &path,
                                             const std::string &text);
  // Registers a file already lexed elsewhere under `name` (the prelude,
  // parsed once per process), so diagnostics located in it quote it too.
  void addFile(const std::shared_ptr<const std::string> &name, const std::string &text);

  void error(const SourceLoc &loc, const std::string &message,
             const std::vector<DiagNote> &notes = {});
  // A likely mistake that still compiles: printed as an error would be, with
  // "warning:"; it counts neither as an error nor against the limit.
  void warning(const SourceLoc &loc, const std::string &message,
               const std::vector<DiagNote> &notes = {});
  // An error without a position (an unreadable file).
  void fileError(const std::string &path, const std::string &message);

  size_t errorCount() const { return errors_; }
  bool hasErrors() const { return errors_ != 0; }
  size_t warningCount() const { return warnings_; }

  // The caret excerpt of one location: the line, then "   ^". Empty when the
  // file or line is unknown. Exposed for tests.
  std::string excerpt(const SourceLoc &loc) const;

private:
  std::string format(const SourceLoc &loc, const char *severity,
                     const std::string &msg) const;
  void add(const SourceLoc &loc, const char *severity, const std::string &message,
           const std::vector<DiagNote> &notes);

  std::ostream &out_;
  size_t limit_;
  size_t errors_ = 0;
  size_t warnings_ = 0;
  // Reported, not yet printed: (file order, line, column) and the text.
  struct Pending {
    int file, line, col;
    std::string text;
  };
  std::vector<Pending> pending_;
  bool limitReached_ = false;
  std::vector<const std::string *> fileOrder_;
  std::map<const std::string *, std::pair<std::shared_ptr<const std::string>, std::string>>
      files_; // shared name -> (itself, text)
};

// The candidate `name` is most likely a misspelling of, for "did you mean
// 'x'?" hints, or "": the nearest by editDistance, if at most a third of the
// name's characters (at least one) are wrong. Callers pass names of the kind
// the place wants (functions for a call, keywords for a keyword argument).
std::string closestName(const std::string &name,
                        const std::vector<std::string> &candidates);
// Damerau-Levenshtein (optimal string alignment) distance.
size_t editDistance(const std::string &a, const std::string &b);

} // namespace dlc
