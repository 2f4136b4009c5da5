// Frontend: the lexer's tokens, positions, bad bytes and foreign operators.
#include <doctest/doctest.h>

#include "frontend/Lexer.h"

#include <sstream>

using namespace dlc;

namespace {

// The tokens of `text`; with `errs`, the lexer's complaints, one line each
// ("1:3: message"), in token order.
std::vector<Token> lexText(const std::string &text, std::string *errs = nullptr) {
  std::ostringstream out;
  DiagEngine diags(out);
  auto toks = lex(text, diags.addFile("t.dl", text));
  if (errs) {
    errs->clear();
    for (auto &t : toks)
      if (!t.problem.empty())
        *errs += std::to_string(t.problemLoc.line) + ":" + std::to_string(t.problemLoc.col) +
                 ": " + t.problem + "\n";
  }
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

TEST_CASE("lexer: a run of bad bytes is one Error token, described by its bytes") {
  std::string errs;
  std::string text = std::string("a \0 b", 5) + " $$? \xc3\xa9 \xff\xfe c";
  auto toks = lexText(text, &errs);
  CHECK(kinds(toks) == std::vector<Tok>{Tok::Ident, Tok::Error, Tok::Ident, Tok::Error,
                                        Tok::Error, Tok::Error, Tok::Ident, Tok::Eof});
  CHECK(describe(toks[1]) == "byte 0x00");
  CHECK(toks[1].loc.col == 3);
  CHECK(describe(toks[3]) == "characters '$$?'");
  // One token for the two-byte UTF-8 character, not two.
  CHECK(describe(toks[4]) == "character '\xc3\xa9'");
  CHECK(describe(toks[5]) == "bytes 0xff 0xfe");
  // Nothing to say beyond what they are: the parser says what it expected.
  CHECK(errs.empty());
}

TEST_CASE("lexer: operators of other languages are Error tokens saying what to write") {
  std::string errs;
  auto toks = lexText("a == b != c <= d >= e < f > g % h ^ i && j || k ! l -> m ..n ...", &errs);
  size_t bad = 0;
  for (auto &t : toks)
    bad += t.kind == Tok::Error;
  CHECK(bad == 14);
  CHECK(errs.find("1:3: comparison 'a == b' is not supported; write equal(a, b)") == 0);
  CHECK(errs.find("write greater(a, b)") != std::string::npos);
  CHECK(errs.find("'^' is not a power; write '**'") != std::string::npos);
  CHECK(errs.find("'a..b' is not supported; a range is written range(a, b)") != std::string::npos);
  // "0..3" is 0, then '..': not the float "0." and ".3".
  CHECK(kinds(lexText("0..3")) == std::vector<Tok>{Tok::Int, Tok::Error, Tok::Int, Tok::Eof});
}

TEST_CASE("lexer: a string in single or curly quotes is the string meant, with a message") {
  std::string errs;
  auto toks = lexText("p = 'same' + \xe2\x80\x9cvalid\xe2\x80\x9d + 'open", &errs);
  CHECK(kinds(toks) == std::vector<Tok>{Tok::Ident, Tok::Equal, Tok::String, Tok::Plus,
                                        Tok::String, Tok::Plus, Tok::Error, Tok::Ident,
                                        Tok::Eof});
  CHECK(toks[2].text == "same");
  CHECK(toks[4].text == "valid");
  CHECK(errs == "1:5: strings are written in straight double quotes: \"same\"\n"
                "1:14: strings are written in straight double quotes: \"valid\"\n");
}

TEST_CASE("lexer: an integer literal too large for 64 bits is an Error token") {
  std::string errs;
  auto toks = lexText("x = 99999999999999999999", &errs);
  CHECK(toks[2].kind == Tok::Error);
  CHECK(errs == "1:5: integer '99999999999999999999' is too large\n");
}

TEST_CASE("lexer: describe() names tokens the way messages quote them") {
  auto toks = lexText("x )\n");
  CHECK(describe(toks[0]) == "'x'");
  CHECK(describe(toks[1]) == "')'");
  CHECK(describe(toks[2]) == "end of line");
  CHECK(describe(toks[3]) == "end of file");
}

TEST_CASE("lexer: a word glued to a number is one complaint, and the word is dropped") {
  std::string errs;
  auto toks = lexText("y = 3x2 + 1.5f\n", &errs);
  // Without swallowing the word the parser would report "x2" a second time.
  CHECK(kinds(toks) == std::vector<Tok>{Tok::Ident, Tok::Equal, Tok::Int, Tok::Plus,
                                        Tok::Float, Tok::Newline, Tok::Eof});
  CHECK(errs == "1:6: unexpected 'x' after number '3'\n"
                "1:14: unexpected 'f' after number '1.5'\n");
}
