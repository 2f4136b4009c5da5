// The DSL's lexer (see Lexer.h).
#include "frontend/Lexer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>

namespace dlc {

namespace {

const std::map<std::string, Tok> &keywords() {
  static const std::map<std::string, Tok> kw = {
      {"model", Tok::KwModel},   {"fn", Tok::KwFn},         {"input", Tok::KwInput},
      {"param", Tok::KwParam},   {"output", Tok::KwOutput}, {"train", Tok::KwTrain},
      {"return", Tok::KwReturn}, {"for", Tok::KwFor}};
  return kw;
}

bool isIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool isDigit(char c) { return c >= '0' && c <= '9'; }

} // namespace

std::string spelling(Tok k) {
  switch (k) {
  case Tok::Ident: return "a name";
  case Tok::Int: return "an integer";
  case Tok::Float: return "a number";
  case Tok::String: return "a string";
  case Tok::Newline: return "end of line";
  case Tok::Eof: return "end of file";
  case Tok::Error: return "an invalid token";
  case Tok::LParen: return "'('";
  case Tok::RParen: return "')'";
  case Tok::LBracket: return "'['";
  case Tok::RBracket: return "']'";
  case Tok::LBrace: return "'{'";
  case Tok::RBrace: return "'}'";
  case Tok::Comma: return "','";
  case Tok::Colon: return "':'";
  case Tok::Semicolon: return "';'";
  case Tok::Equal: return "'='";
  case Tok::Plus: return "'+'";
  case Tok::Minus: return "'-'";
  case Tok::Star: return "'*'";
  case Tok::StarStar: return "'**'";
  case Tok::Slash: return "'/'";
  case Tok::SlashSlash: return "'//'";
  case Tok::At: return "'@'";
  default:
    for (auto &[word, kind] : keywords())
      if (kind == k)
        return fmt::format("'{}'", word);
  }
  return "?";
}

namespace {

// Length of the UTF-8 character at text[i], or 0 when the bytes there are not
// one (a stray continuation byte, a truncated sequence, a control byte).
size_t utf8Length(const std::string &text, size_t i) {
  unsigned char c = (unsigned char)text[i];
  if (c >= 0x20 && c < 0x7f)
    return 1;
  size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (len == 0 || i + len > text.size())
    return 0;
  for (size_t k = 1; k < len; ++k)
    if (((unsigned char)text[i + k] & 0xc0) != 0x80)
      return 0;
  return len;
}

// "character '$'", "characters '$$'", "character 'é'"; bytes that are not
// printable text by value: "byte 0x00", "bytes 0xff 0xfe".
std::string describeBadRun(const std::string &run) {
  size_t chars = 0;
  bool text = true;
  for (size_t i = 0; i < run.size() && text; ++chars) {
    size_t len = utf8Length(run, i);
    text = len != 0;
    i += len;
  }
  if (text)
    return fmt::format("{} '{}'", chars == 1 ? "character" : "characters", run);
  std::string out = run.size() == 1 ? "byte" : "bytes";
  for (size_t i = 0; i < run.size() && i < 8; ++i)
    fmt::format_to(std::back_inserter(out), " 0x{:02x}", (unsigned char)run[i]);
  if (run.size() > 8)
    out += " ...";
  return out;
}

// Operators of other languages, each lexed as one Error token whose message
// names what the DSL writes instead. Longest spellings first.
struct ForeignOp {
  const char *spelling;
  const char *message;
};
const ForeignOp kForeignOps[] = {
    {"...", "an ellipsis '...' is not supported in an index; write ':' for each leading axis, "
            "as in x[:, :, 0]"},
    {"..", "'a..b' is not supported; a range is written range(a, b)"},
    {"==", "comparison 'a == b' is not supported; write equal(a, b), which is 1.0 where "
           "a == b and 0.0 elsewhere"},
    {"!=", "comparison 'a != b' is not supported; write not_equal(a, b), which is 1.0 where "
           "a != b and 0.0 elsewhere"},
    {"<=", "comparison 'a <= b' is not supported; write less_equal(a, b), which is 1.0 where "
           "a <= b and 0.0 elsewhere"},
    {">=", "comparison 'a >= b' is not supported; write greater_equal(a, b), which is 1.0 "
           "where a >= b and 0.0 elsewhere"},
    {"->", "'->' is not supported: a function's result has no declared type"},
    {"&&", "'&&' is not supported; for masks (1.0 or 0.0), a * b is 'a and b'"},
    {"||", "'||' is not supported; for masks (1.0 or 0.0), maximum(a, b) is 'a or b'"},
    {"<", "comparison 'a < b' is not supported; write less(a, b), which is 1.0 where a < b "
          "and 0.0 elsewhere"},
    {">", "comparison 'a > b' is not supported; write greater(a, b), which is 1.0 where "
          "a > b and 0.0 elsewhere"},
    {"&", "'&' is not supported; for masks (1.0 or 0.0), a * b is 'a and b'"},
    {"|", "'|' is not supported; for masks (1.0 or 0.0), maximum(a, b) is 'a or b'"},
    {"!", "'!' is not supported; for a mask m (1.0 or 0.0), 1 - m is 'not m'"},
    {"^", "'^' is not a power; write '**', as in x ** 2"},
    {"%", "'%' is not supported; for compile-time integers, a - a // b * b is the remainder"},
};

const ForeignOp *foreignOpAt(const std::string &text, size_t i) {
  for (const ForeignOp &op : kForeignOps)
    if (text.compare(i, std::strlen(op.spelling), op.spelling) == 0)
      return &op;
  return nullptr;
}

// Where a string opened at `open` by `quote` closes on its line, or npos.
size_t closingQuote(const std::string &text, size_t open, const std::string &quote,
                    const std::string &close) {
  for (size_t i = open + quote.size(); i < text.size() && text[i] != '\n'; ++i)
    if (text.compare(i, close.size(), close) == 0)
      return i;
  return std::string::npos;
}

const std::string kLeftCurly = "\xe2\x80\x9c", kRightCurly = "\xe2\x80\x9d";

} // namespace

std::string describe(const Token &t) {
  switch (t.kind) {
  case Tok::Newline:
  case Tok::Eof: return spelling(t.kind);
  case Tok::Error: return describeBadRun(t.text);
  case Tok::Ident:
  case Tok::Int:
  case Tok::Float: return fmt::format("'{}'", t.text);
  case Tok::String: return fmt::format("\"{}\"", t.text);
  default: break;
  }
  if (keywords().count(t.text))
    return fmt::format("keyword '{}'", t.text);
  return spelling(t.kind);
}

std::vector<Token> lex(const std::string &text,
                       const std::shared_ptr<const std::string> &file) {
  std::vector<Token> toks;
  size_t i = 0, n = text.size();
  int line = 1;
  size_t lineStart = 0;
  auto locAt = [&](size_t pos) {
    SourceLoc l;
    l.file = file;
    l.line = line;
    l.col = (int)(pos - lineStart) + 1;
    return l;
  };
  auto push = [&](Tok k, size_t start, size_t end) {
    Token t;
    t.kind = k;
    t.text = text.substr(start, end - start);
    t.loc = locAt(start);
    toks.push_back(std::move(t));
  };
  auto flaw = [&](const SourceLoc &at, std::string message) {
    toks.back().problem = std::move(message);
    toks.back().problemLoc = at;
  };

  static const std::map<char, Tok> punct = {
      {'(', Tok::LParen},   {')', Tok::RParen}, {'[', Tok::LBracket},
      {']', Tok::RBracket}, {'{', Tok::LBrace}, {'}', Tok::RBrace},
      {',', Tok::Comma},    {':', Tok::Colon},  {';', Tok::Semicolon},
      {'=', Tok::Equal},    {'+', Tok::Plus},   {'-', Tok::Minus},
      {'*', Tok::Star},     {'/', Tok::Slash},  {'@', Tok::At}};

  // A string in quotes the DSL does not use, closed on its line: the token
  // is the string meant, flagged.
  auto foreignString = [&](size_t at) -> size_t {
    if (text[at] == '\'')
      return closingQuote(text, at, "'", "'");
    if (text.compare(at, kLeftCurly.size(), kLeftCurly) == 0)
      return closingQuote(text, at, kLeftCurly, kRightCurly);
    return std::string::npos;
  };
  // Whether a token (or blank, or comment) can start at `at`; bytes where
  // none can form one bad run.
  auto startsToken = [&](size_t at) {
    char c = text[at];
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '#' || c == '"' ||
           isIdentStart(c) || isDigit(c) || punct.count(c) ||
           (c == '.' && at + 1 < n && (isDigit(text[at + 1]) || text[at + 1] == '.')) ||
           foreignOpAt(text, at) || foreignString(at) != std::string::npos;
  };

  while (i < n) {
    char c = text[i];
    if (c == ' ' || c == '\t' || c == '\r') {
      ++i;
    } else if (c == '#') {
      while (i < n && text[i] != '\n')
        ++i;
    } else if (c == '\n') {
      push(Tok::Newline, i, i + 1);
      toks.back().text = "\\n";
      ++i;
      ++line;
      lineStart = i;
    } else if (isIdentStart(c)) {
      // A dotted name (dense_1.w, D.dense_1.b) is one token: the DSL has no
      // member access, and a param's full name is spelled so.
      size_t s = i;
      while (i < n && (isIdentStart(text[i]) || isDigit(text[i]) ||
                       (text[i] == '.' && i + 1 < n && isIdentStart(text[i + 1]))))
        ++i;
      push(Tok::Ident, s, i);
      auto kw = keywords().find(toks.back().text);
      if (kw != keywords().end())
        toks.back().kind = kw->second;
    } else if (isDigit(c) || (c == '.' && i + 1 < n && isDigit(text[i + 1]))) {
      size_t s = i;
      bool isFloat = false;
      while (i < n && isDigit(text[i]))
        ++i;
      // "0..3" is 0, then '..'.
      if (i < n && text[i] == '.' && !(i + 1 < n && text[i + 1] == '.')) {
        isFloat = true;
        ++i;
        while (i < n && isDigit(text[i]))
          ++i;
      }
      if (i < n && (text[i] == 'e' || text[i] == 'E')) {
        size_t e = i + 1;
        if (e < n && (text[e] == '+' || text[e] == '-'))
          ++e;
        if (e < n && isDigit(text[e])) {
          isFloat = true;
          i = e;
          while (i < n && isDigit(text[i]))
            ++i;
        }
      }
      push(isFloat ? Tok::Float : Tok::Int, s, i);
      Token &t = toks.back();
      errno = 0;
      if (isFloat)
        t.floatValue = std::strtod(t.text.c_str(), nullptr);
      else
        t.intValue = std::strtoll(t.text.c_str(), nullptr, 10);
      if (errno == ERANGE) {
        // The value is meaningless: the token cannot stand for it.
        t.kind = Tok::Error;
        flaw(t.loc, isFloat ? fmt::format("number '{}' is out of range", t.text)
                            : fmt::format("integer '{}' is too large", t.text));
      }
      if (i < n && isIdentStart(text[i])) {
        flaw(locAt(i), fmt::format("unexpected '{}' after number '{}'", text[i], t.text));
        // Swallow the rest of the word ("3x", "1.5f"): one mistake, one message.
        while (i < n && (isIdentStart(text[i]) || isDigit(text[i])))
          ++i;
      }
    } else if (c == '"') {
      // A string: padding = "same", name = "D". No escapes, one line.
      size_t s = i++;
      while (i < n && text[i] != '"' && text[i] != '\n')
        ++i;
      if (i == n || text[i] != '"') {
        push(Tok::String, s, i);
        toks.back().text = text.substr(s + 1, i - s - 1);
        flaw(toks.back().loc, "missing '\"' at the end of this string");
        continue;
      }
      ++i;
      push(Tok::String, s, i);
      toks.back().text = text.substr(s + 1, i - s - 2);
    } else if (size_t close = foreignString(i); close != std::string::npos) {
      // 'same' or “same”: the string meant, with a message.
      size_t open = c == '\'' ? 1 : kLeftCurly.size();
      size_t end = close + (c == '\'' ? 1 : kRightCurly.size());
      push(Tok::String, i, end);
      toks.back().text = text.substr(i + open, close - i - open);
      flaw(toks.back().loc,
           fmt::format("strings are written in straight double quotes: \"{}\"", toks.back().text));
      i = end;
    } else if (const ForeignOp *op = foreignOpAt(text, i)) {
      size_t len = std::strlen(op->spelling);
      push(Tok::Error, i, i + len);
      flaw(toks.back().loc, op->message);
      i += len;
    } else if (c == '*' && i + 1 < n && text[i + 1] == '*') {
      push(Tok::StarStar, i, i + 2);
      i += 2;
    } else if (c == '/' && i + 1 < n && text[i + 1] == '/') {
      push(Tok::SlashSlash, i, i + 2);
      i += 2;
    } else if (punct.count(c)) {
      push(punct.at(c), i, i + 1);
      ++i;
    } else {
      // A run of bytes that start no token is one Error token ("$$", a
      // UTF-8 character), described by the parser where it meets it.
      size_t s = i;
      do
        i += std::max<size_t>(1, utf8Length(text, i));
      while (i < n && !startsToken(i));
      push(Tok::Error, s, std::min(i, n));
    }
  }
  push(Tok::Eof, n, n);
  return toks;
}

} // namespace dlc
