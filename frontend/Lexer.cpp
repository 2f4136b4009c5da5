// The DSL's lexer (see Lexer.h).
#include "frontend/Lexer.h"

#include <cerrno>
#include <cstdlib>
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
        return "'" + word + "'";
  }
  return "?";
}

std::string describe(const Token &t) {
  switch (t.kind) {
  case Tok::Newline:
  case Tok::Eof: return spelling(t.kind);
  case Tok::Ident:
  case Tok::Int:
  case Tok::Float: return "'" + t.text + "'";
  case Tok::String: return "\"" + t.text + "\"";
  default: break;
  }
  if (keywords().count(t.text))
    return "keyword '" + t.text + "'";
  return spelling(t.kind);
}

std::vector<Token> lex(const std::string &text,
                       const std::shared_ptr<const std::string> &file,
                       DiagEngine &diags) {
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

  static const std::map<char, Tok> punct = {
      {'(', Tok::LParen},   {')', Tok::RParen}, {'[', Tok::LBracket},
      {']', Tok::RBracket}, {'{', Tok::LBrace}, {'}', Tok::RBrace},
      {',', Tok::Comma},    {':', Tok::Colon},  {';', Tok::Semicolon},
      {'=', Tok::Equal},    {'+', Tok::Plus},   {'-', Tok::Minus},
      {'*', Tok::Star},     {'/', Tok::Slash},  {'@', Tok::At}};

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
      if (i < n && text[i] == '.') {
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
      if (isFloat) {
        t.floatValue = std::strtod(t.text.c_str(), nullptr);
        if (errno == ERANGE)
          diags.error(t.loc, "number '" + t.text + "' is out of range");
      } else {
        t.intValue = std::strtoll(t.text.c_str(), nullptr, 10);
        if (errno == ERANGE)
          diags.error(t.loc, "integer '" + t.text + "' is too large");
      }
      if (i < n && isIdentStart(text[i])) {
        diags.error(locAt(i), "unexpected '" + std::string(1, text[i]) +
                                  "' after number '" + t.text + "'");
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
        diags.error(locAt(s), "missing '\"' at the end of this string");
        push(Tok::String, s, i);
        toks.back().text = text.substr(s + 1, i - s - 1);
        continue;
      }
      ++i;
      push(Tok::String, s, i);
      toks.back().text = text.substr(s + 1, i - s - 2);
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
      unsigned char u = (unsigned char)c;
      char buf[48];
      if (u >= 0x20 && u < 0x7f)
        std::snprintf(buf, sizeof buf, "unexpected character '%c'", c);
      else
        std::snprintf(buf, sizeof buf, "unexpected byte 0x%02x", u);
      diags.error(locAt(i), buf);
      // One report per UTF-8 character, not per byte.
      ++i;
      while (u >= 0x80 && i < n && ((unsigned char)text[i] & 0xc0) == 0x80)
        ++i;
    }
  }
  push(Tok::Eof, n, n);
  return toks;
}

} // namespace dlc
