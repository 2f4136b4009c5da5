// The frontend's entry points (Frontend.h): read, lex, parse the user's file
// and the built-in prelude, then lower both to a Module.
#include "frontend/Frontend.h"
#include "frontend/Diagnostics.h"
#include "frontend/Lower.h"
#include "frontend/Parser.h"
#include "ir/Support.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <iterator>

namespace dlc {

extern const char *const kPreludeText;

const std::string &preludeSource() {
  static const std::string text(kPreludeText);
  return text;
}

const char *preludeName() { return "prelude.dl"; }

namespace {

bool readFile(const std::string &path, std::string &text, std::ostream &errs) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    DiagEngine(errs).fileError(path, fmt::format("cannot open file: {}", std::strerror(errno)));
    return false;
  }
  text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

// Lexes and parses one file, registered with `diags` as `file`; false when it
// had syntax errors.
bool parseFile(const std::string &path, const std::string &text, DiagEngine &diags,
               Program &out, std::shared_ptr<const std::string> &file) {
  size_t before = diags.errorCount();
  file = diags.addFile(path, text);
  std::vector<Token> toks = lex(text, file);
  out = parseProgram(toks, diags);
  return diags.errorCount() == before;
}

// The prelude's syntax tree, parsed once per process: it is the same text
// every time, and parsing it took half of a small model's frontend time.
// Lowering only reads the tree, so threads may share it.
struct ParsedPrelude {
  std::shared_ptr<const std::string> file;
  Program program;
};

const ParsedPrelude &parsedPrelude() {
  static const ParsedPrelude parsed = [] {
    std::ostringstream errs;
    DiagEngine diags(errs);
    ParsedPrelude p;
    if (!parseFile(preludeName(), preludeSource(), diags, p.program, p.file))
      internalError("the built-in prelude does not parse: " + errs.str());
    return p;
  }();
  return parsed;
}

} // namespace

std::unique_ptr<Module> compileModelSource(const std::string &path,
                                           const std::string &text,
                                           std::ostream &errs,
                                           const FrontendOptions &opts) {
  DiagEngine diags(errs);
  try {
    const ParsedPrelude &prelude = parsedPrelude();
    diags.addFile(prelude.file, preludeSource());
    Program user;
    std::shared_ptr<const std::string> userFile;
    // Lowering runs after syntax errors too, so that they hide no other
    // mistake: a statement that did not parse binds its names to invalid
    // values, about which nothing more is said.
    bool parsed = parseFile(path, text, diags, user, userFile);
    if (!user.model && !parsed)
      return nullptr;
    if (!user.model) {
      SourceLoc start;
      start.file = userFile;
      start.line = start.col = 1;
      diags.error(start, "no model in this file (expected 'model NAME(...) { ... }')");
      return nullptr;
    }
    Lowerer lowerer(diags, prelude.file, opts);
    return lowerer.run(user, prelude.program); // null after any error, syntax errors included
  } catch (CompileError &) {
    return nullptr; // the error limit was reached; all of them are printed
  }
}

std::unique_ptr<Module> compileModelFile(const std::string &path, std::ostream &errs,
                                         const FrontendOptions &opts) {
  std::string text;
  if (!readFile(path, text, errs))
    return nullptr;
  return compileModelSource(path, text, errs, opts);
}

bool dumpAst(const std::string &path, std::ostream &out, std::ostream &errs) {
  std::string text;
  if (!readFile(path, text, errs))
    return false;
  DiagEngine diags(errs);
  try {
    Program p;
    std::shared_ptr<const std::string> file;
    if (!parseFile(path, text, diags, p, file))
      return false;
    printAst(p, out);
    return true;
  } catch (CompileError &) {
    return false;
  }
}

} // namespace dlc
