// Turns DSL text into tokens. Newlines are tokens (they end statements); `#`
// starts a comment to the end of the line. The lexer reports nothing itself:
// a run of bad bytes becomes one Error token, and a token with a flaw (a word
// glued to a number, a string in single quotes) carries its message. The
// parser reports either when it reaches the token, so messages come in source
// order and a statement that already has one gets no second.
#pragma once

#include "frontend/Diagnostics.h"

#include <cstdint>
#include <string>
#include <vector>

namespace dlc {

enum class Tok {
  Ident, Int, Float, String, Newline, Eof,
  Error, // bad bytes, or an operator the DSL lacks (`<`, `==`, `%`): never parses
  LParen, RParen, LBracket, RBracket, LBrace, RBrace,
  Comma, Colon, Semicolon, Equal, Plus, Minus, Star, StarStar, Slash, SlashSlash, At,
  // Reserved words.
  KwModel, KwFn, KwInput, KwParam, KwOutput, KwTrain, KwReturn, KwFor,
};

struct Token {
  Tok kind;
  std::string text; // the spelling, for messages; a string's contents
  SourceLoc loc;
  int64_t intValue = 0;
  double floatValue = 0;
  // What is wrong with the token, at problemLoc; empty when nothing is. An
  // Error token without one is described by its bytes ("character '$'").
  std::string problem;
  SourceLoc problemLoc;
};

// How a token is named in "expected X, found Y" messages: "'x'", "end of line",
// "character '$'".
std::string describe(const Token &t);
// The spelling of a punctuation or keyword kind: "')'".
std::string spelling(Tok k);

std::vector<Token> lex(const std::string &text,
                       const std::shared_ptr<const std::string> &file);

} // namespace dlc
