// Turns DSL text into tokens. Newlines are tokens (they end statements); `#`
// starts a comment to the end of the line. Bad bytes are reported and
// skipped, so the parser always sees a well-formed stream ending in Eof.
#pragma once

#include "frontend/Diagnostics.h"

#include <cstdint>
#include <string>
#include <vector>

namespace dlc {

enum class Tok {
  Ident, Int, Float, String, Newline, Eof,
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
};

// How a token is named in "expected X, found Y" messages: "'x'", "end of line".
std::string describe(const Token &t);
// The spelling of a punctuation or keyword kind: "')'".
std::string spelling(Tok k);

std::vector<Token> lex(const std::string &text,
                       const std::shared_ptr<const std::string> &file,
                       DiagEngine &diags);

} // namespace dlc
