// Frontend: the lexer's tokens, positions and handling of bad bytes.
#include <doctest/doctest.h>

#include "frontend/Lexer.h"

#include <sstream>

using namespace dlc;

namespace {

std::vector<Token> lexText(const std::string &text, std::string *errs = nullptr) {
  std::ostringstream out;
  DiagEngine diags(out);
  auto toks = lex(text, diags.addFile("t.dl", text), diags);
  if (errs)
    *errs = out.str();
  return toks;
}

std::vector<Tok> kinds(const std::vector<Token> &toks) {
  std::vector<Tok> k;
  for (auto &t : toks)
    k.push_back(t.kind);
  return k;
}

} // namespace

TEST_CASE("lexer: a statement with numbers, operators and a comment") {
  auto toks = lexText("h = x @ w + 1.5e-3 * 2 # note\n");
  CHECK(kinds(toks) == std::vector<Tok>{Tok::Ident, Tok::Equal, Tok::Ident, Tok::At,
                                        Tok::Ident, Tok::Plus, Tok::Float, Tok::Star,
                                        Tok::Int, Tok::Newline, Tok::Eof});
  CHECK(toks[6].floatValue == doctest::Approx(1.5e-3));
  CHECK(toks[8].intValue == 2);
  CHECK(toks[4].loc.line == 1);
  CHECK(toks[4].loc.col == 9);
}

TEST_CASE("lexer: ** is one token, * * two") {
  auto toks = lexText("x ** 2 * * y***z");
  CHECK(kinds(toks) == std::vector<Tok>{Tok::Ident, Tok::StarStar, Tok::Int, Tok::Star,
                                        Tok::Star, Tok::Ident, Tok::StarStar, Tok::Star,
                                        Tok::Ident, Tok::Eof});
  CHECK(describe(toks[1]) == "'**'");
}

TEST_CASE("lexer: keywords are reserved, other words are names") {
  auto toks = lexText("model fn input param output train return dense");
  CHECK(kinds(toks) == std::vector<Tok>{Tok::KwModel, Tok::KwFn, Tok::KwInput,
                                        Tok::KwParam, Tok::KwOutput, Tok::KwTrain,
                                        Tok::KwReturn, Tok::Ident, Tok::Eof});
}

TEST_CASE("lexer: lines and columns count from 1, tabs are one column") {
  auto toks = lexText("a\n\tb  # c\n  [x]");
  REQUIRE(toks.size() >= 7);
  CHECK(toks[2].text == "b");
  CHECK(toks[2].loc.line == 2);
  CHECK(toks[2].loc.col == 2);
  CHECK(toks[4].kind == Tok::LBracket);
  CHECK(toks[4].loc.line == 3);
  CHECK(toks[4].loc.col == 3);
}

TEST_CASE("lexer: NUL and stray bytes are reported once each and skipped") {
  std::string errs;
  std::string text = std::string("a \0 b", 5) + " $ \xc3\xa9";
  auto toks = lexText(text, &errs);
  CHECK(kinds(toks) == std::vector<Tok>{Tok::Ident, Tok::Ident, Tok::Eof});
  CHECK(errs.find("t.dl:1:3: error: unexpected byte 0x00") != std::string::npos);
  CHECK(errs.find("t.dl:1:7: error: unexpected character '$'") != std::string::npos);
  // One message for the two-byte UTF-8 character, not two.
  CHECK(errs.find("unexpected byte 0xc3") != std::string::npos);
  CHECK(errs.find("0xa9") == std::string::npos);
}

TEST_CASE("lexer: an integer literal too large for 64 bits is an error") {
  std::string errs;
  lexText("x = 99999999999999999999", &errs);
  CHECK(errs.find("error: integer '99999999999999999999' is too large") != std::string::npos);
}

TEST_CASE("lexer: describe() names tokens the way messages quote them") {
  auto toks = lexText("x )\n");
  CHECK(describe(toks[0]) == "'x'");
  CHECK(describe(toks[1]) == "')'");
  CHECK(describe(toks[2]) == "end of line");
  CHECK(describe(toks[3]) == "end of file");
}

TEST_CASE("lexer: a word glued to a number is one error, and the word is dropped") {
  std::string errs;
  auto toks = lexText("y = 3x2 + 1.5f\n", &errs);
  // Without swallowing the word the parser would report "x2" a second time.
  CHECK(kinds(toks) == std::vector<Tok>{Tok::Ident, Tok::Equal, Tok::Int, Tok::Plus,
                                        Tok::Float, Tok::Newline, Tok::Eof});
  CHECK(errs == "t.dl:1:6: error: unexpected 'x' after number '3'\n"
                "y = 3x2 + 1.5f\n"
                "     ^\n"
                "t.dl:1:14: error: unexpected 'f' after number '1.5'\n"
                "y = 3x2 + 1.5f\n"
                "             ^\n");
}
