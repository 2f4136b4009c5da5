// Frontend: the error corpus (tests/errors/*.dl, each with its expected
// diagnostic as FileCheck lines) checked without the driver, and robustness:
// mutated and pathological inputs must give diagnostics, never a crash or hang.
#include <doctest/doctest.h>

#include "frontend/Frontend.h"
#include "ir/Verifier.h"

#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>

using namespace dlc;
namespace fs = std::filesystem;

namespace {

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> splitLines(const std::string &s) {
  std::vector<std::string> lines;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);)
    lines.push_back(l);
  return lines;
}

// A FileCheck pattern under --match-full-lines --strict-whitespace, where
// {{re}} is a regex and everything else is literal.
std::regex checkRegex(const std::string &pattern) {
  std::string re;
  size_t i = 0;
  while (i < pattern.size()) {
    size_t open = pattern.find("{{", i);
    std::string lit = pattern.substr(i, open == std::string::npos ? std::string::npos : open - i);
    for (char c : lit) {
      if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos)
        re += '\\';
      re += c;
    }
    if (open == std::string::npos)
      break;
    size_t close = pattern.find("}}", open);
    re += pattern.substr(open + 2, close - open - 2);
    i = close + 2;
  }
  return std::regex(re);
}

// Runs the CHECK / CHECK-NEXT / CHECK-EMPTY lines of `checks` over `output`;
// returns "" or what failed. With --implicit-check-not=PATTERN on the RUN
// line (`checks[0]`), no line the directives did not match may contain it:
// '{{.}}' makes them the whole output.
std::string fileCheck(const std::vector<std::string> &checks, const std::string &output) {
  std::vector<std::string> out = splitLines(output);
  std::vector<bool> matched(out.size());
  size_t pos = 0;
  bool first = true;
  for (const std::string &c : checks) {
    static const std::regex directive("^# (CHECK|CHECK-NEXT|CHECK-EMPTY):(.*)$");
    std::smatch m;
    if (!std::regex_match(c, m, directive))
      continue;
    std::string kind = m[1], pat = m[2];
    if (kind == "CHECK") {
      std::regex re = checkRegex(pat);
      size_t k = first ? 0 : pos;
      while (k < out.size() && !std::regex_match(out[k], re))
        ++k;
      if (k == out.size())
        return "not found: " + c;
      matched[k] = true;
      pos = k + 1;
    } else {
      if (first || pos >= out.size())
        return "no line for: " + c;
      bool ok = kind == "CHECK-EMPTY" ? out[pos].empty()
                                      : std::regex_match(out[pos], checkRegex(pat));
      if (!ok)
        return "line '" + out[pos] + "' does not match: " + c;
      matched[pos++] = true;
    }
    first = false;
  }
  if (first)
    return "no CHECK lines";
  static const std::regex implicitNot("--implicit-check-not='?([^' ]+)'?");
  std::smatch m;
  if (!checks.empty() && std::regex_search(checks[0], m, implicitNot)) {
    std::regex excluded = checkRegex(m[1]);
    for (size_t k = 0; k < out.size(); ++k)
      if (!matched[k] && std::regex_search(out[k], excluded))
        return "unexpected line: '" + out[k] + "'";
  }
  return "";
}

} // namespace

TEST_CASE("errors: every program in tests/errors fails with its expected message") {
  std::vector<fs::path> files;
  for (auto &e : fs::directory_iterator(DLC_SOURCE_DIR "/tests/errors"))
    if (e.path().extension() == ".dl")
      files.push_back(e.path());
  std::sort(files.begin(), files.end());
  CHECK(files.size() >= 60);
  for (const fs::path &f : files) {
    std::string text = readFile(f.string());
    std::vector<std::string> lines = splitLines(text);
    REQUIRE(!lines.empty());
    CHECK_MESSAGE(lines[0].rfind("# RUN: not %dlc %s --emit=ir 2>&1 | FileCheck %s", 0) == 0,
                  f.filename().string());
    std::ostringstream errs;
    auto m = compileModelFile(f.string(), errs);
    CHECK_MESSAGE(!m, f.filename().string());
    std::string failure = fileCheck(lines, errs.str());
    CHECK_MESSAGE(failure.empty(), f.filename().string() << ": " << failure << "\noutput:\n"
                                                         << errs.str());
  }
}

TEST_CASE("errors: every error line has a position, a source line and a caret") {
  std::ostringstream errs;
  compileModelSource("p.dl", "model m {\n  input x : f32[2]\n  output y = x @ zz\n}\n", errs);
  CHECK(errs.str() == "p.dl:3:18: error: unknown name 'zz'\n"
                      "  output y = x @ zz\n"
                      "                 ^\n");
}

TEST_CASE("errors: a user's file named prelude.dl is not taken for the built-in prelude") {
  // Files were once told apart by path: the excerpt showed the built-in
  // prelude's line, and errors in the user's functions were moved to their
  // call sites as if they were the compiler's code.
  std::ostringstream errs;
  compileModelSource("prelude.dl",
                     "fn sq(x) {\n  return x @ x\n}\n"
                     "model m {\n  input x : f32[4, 3]\n  output y = sq(x)\n}\n",
                     errs);
  CHECK(errs.str() == "prelude.dl:2:12: error: matmul: inner dimensions differ: "
                      "f32[4, 3] @ f32[4, 3]\n"
                      "  return x @ x\n"
                      "           ^\n"
                      "prelude.dl:6:14: note: in call to 'sq' here\n"
                      "  output y = sq(x)\n"
                      "             ^\n");
}

TEST_CASE("errors: an unreadable file is a diagnostic") {
  std::ostringstream errs;
  CHECK(!compileModelFile("/nonexistent/m.dl", errs));
  CHECK(errs.str().rfind("/nonexistent/m.dl: error: cannot open file", 0) == 0);
}

TEST_CASE("errors: the number of reported errors is capped") {
  std::string text = "model m {\n";
  for (int i = 0; i < 100; ++i)
    text += "  output y" + std::to_string(i) + " = nope" + std::to_string(i) + "\n";
  text += "}\n";
  std::ostringstream errs;
  CHECK(!compileModelSource("c.dl", text, errs));
  std::string out = errs.str();
  size_t count = 0;
  for (size_t p = 0; (p = out.find(": error: ", p)) != std::string::npos; ++p)
    ++count;
  CHECK(count == 20);
  CHECK(out.find("too many errors emitted (20), stopping now") != std::string::npos);
}

TEST_CASE("errors: pathological inputs give diagnostics, not crashes or hangs") {
  auto rejects = [](const std::string &text) {
    std::ostringstream errs;
    auto m = compileModelSource("z.dl", text, errs);
    return !m && errs.str().rfind("z.dl:", 0) == 0;
  };
  CHECK(rejects(std::string(500, '(')));
  CHECK(rejects("model m {\n  output y = " + std::string(500, '(') + "1" +
                std::string(500, ')') + "\n}\n"));
  CHECK(rejects("model m {\n  output y = " + std::string(500, '[') + "\n}\n"));
  CHECK(rejects(std::string("\0\0\0model\0", 9)));
  CHECK(rejects("model m {"));
  CHECK(rejects("fn f(x) { return f(x) + f(x) }\nmodel m {\n  input x : f32[1]\n"
                "  output y = f(x)\n}\n"));
  CHECK(rejects("model m(b = 99999999999) {\n  input x : f32[b, b, b]\n  output y = x\n}\n"));
  CHECK(rejects("model m {\n  input x : f32[2]\n  output y = reshape(x, [-1, -1])\n}\n"));
  CHECK(rejects("model m(a = 9223372036854775807) {\n  input x : f32[a + 1]\n  output y = x\n}\n"));
  // Blocks nested 100 000 deep exhausted the stack.
  std::string loops;
  for (int i = 0; i < 100000; ++i)
    loops += "for t in range(1) {\n";
  loops += std::string(100000, '}');
  CHECK(rejects("model m {\n  input x : f32[1]\n" + loops + "\n  output y = x\n}\n"));
}

TEST_CASE("errors: random mutations of mnist_mlp.dl never crash") {
  const std::string base = readFile(DLC_SOURCE_DIR "/examples/mnist_mlp.dl");
  REQUIRE(!base.empty());
  const std::vector<std::string> pieces = {
      "(", ")", "[", "]", "{", "}", ",", "=", "@", "-", "*", "/", "\n", "#", ":",
      "model", "fn", "param", "input", "output", "train", "return", "dense", "relu",
      "x", "0", "-1", "1e999", "999999999999999999999", std::string(1, '\0'), "\xff",
      "f32[", "i32[2]", "adam(", "sgd(lr = 0)", "= zeros()"};
  std::mt19937 rng(1234);
  int accepted = 0;
  for (int iter = 0; iter < 1500; ++iter) {
    std::string text = base;
    int edits = 1 + (int)(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t at = rng() % (text.size() + 1);
      switch (rng() % 4) {
      case 0: text.erase(at, 1 + rng() % 8); break;
      case 1: text.insert(at, pieces[rng() % pieces.size()]); break;
      case 2: text.insert(at, text.substr(rng() % text.size(), rng() % 40)); break;
      default:
        if (!text.empty())
          text[rng() % text.size()] = (char)(rng() % 256);
      }
    }
    std::ostringstream errs;
    std::unique_ptr<Module> m;
    CHECK_NOTHROW(m = compileModelSource("mut.dl", text, errs));
    if (m) {
      ++accepted;
      CHECK(verifyModule(*m).empty());
    } else {
      CHECK_MESSAGE(errs.str().rfind("mut.dl:", 0) == 0, text);
    }
  }
  // Some mutations (in comments, or harmless) must still compile.
  CHECK(accepted > 0);
}
