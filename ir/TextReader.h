// The lexing every reader of the IR text form shares: a cursor over the
// text with located errors (file:line:col, the line, a caret), names,
// numbers, strings and tensor types. ir/IRParser.cpp reads graphs with it,
// ir/PlanParser.cpp the buffer IR.
#pragma once

#include "ir/Op.h"
#include "ir/Type.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

namespace dlc {

namespace text {
inline bool isIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
inline bool isDigit(char c) { return c >= '0' && c <= '9'; }
inline bool isIdentChar(char c) { return isIdentStart(c) || isDigit(c) || c == '.'; }
inline bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
} // namespace text

class TextReader {
public:
  TextReader(const std::string &text, const std::string &filename)
      : text_(text), filename_(filename) {}

  const std::string &error() const { return error_; }
  size_t pos() const { return pos_; }
  // The position of the next token (spaces and comments skipped).
  size_t here() { return (skipSpace(), pos_); }

  // --- diagnostics -----------------------------------------------------------

  bool fail(size_t at, const std::string &msg) {
    // At the end of input, point just past the last token, not at an empty line.
    if (at >= text_.size()) {
      at = text_.size();
      while (at > 0 && text::isSpace(text_[at - 1]))
        --at;
    }
    size_t lineStart = at;
    while (lineStart > 0 && text_[lineStart - 1] != '\n')
      --lineStart;
    size_t lineEnd = text_.find('\n', lineStart);
    if (lineEnd == std::string::npos)
      lineEnd = text_.size();
    int line = 1 + (int)std::count(text_.begin(), text_.begin() + lineStart, '\n');
    int col = 1 + (int)(at - lineStart);
    std::string src = text_.substr(lineStart, lineEnd - lineStart);
    // Keep tabs in the caret line so the caret sits under the right column.
    std::string caret;
    for (size_t i = 0; i < at - lineStart; ++i)
      caret += src[i] == '\t' ? '\t' : ' ';
    error_ = fmt::format("{}:{}:{}: error: {}\n{}\n{}^", filename_, line, col, msg, src, caret);
    return false;
  }

  // --- lexing, on demand -----------------------------------------------------

  void skipSpace() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (text::isSpace(c)) {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n')
          ++pos_;
      } else {
        break;
      }
    }
  }

  bool atEnd() {
    skipSpace();
    return pos_ >= text_.size();
  }

  char peek() {
    skipSpace();
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }

  std::string describeHere() {
    if (pos_ >= text_.size())
      return "end of input";
    if (text::isIdentStart(text_[pos_])) {
      size_t e = pos_;
      while (e < text_.size() && text::isIdentChar(text_[e]))
        ++e;
      return fmt::format("'{}'", text_.substr(pos_, e - pos_));
    }
    unsigned char c = text_[pos_];
    if (c < 0x20 || c >= 0x7f)
      return "a stray byte";
    return fmt::format("'{}'", (char)c);
  }

  bool expect(char c) {
    if (peek() == c) {
      ++pos_;
      return true;
    }
    return fail(pos_, fmt::format("expected '{}', found {}", c, describeHere()));
  }

  bool accept(char c) {
    if (peek() != c)
      return false;
    ++pos_;
    return true;
  }

  // The NAME at the cursor ("" if none), not consumed.
  std::string scanIdentNoSkip() {
    size_t e = pos_;
    if (e < text_.size() && text::isIdentStart(text_[e]))
      while (e < text_.size() && text::isIdentChar(text_[e]))
        ++e;
    return text_.substr(pos_, e - pos_);
  }

  std::string scanIdent() {
    skipSpace();
    return scanIdentNoSkip();
  }

  bool ident(std::string &out, const char *what) {
    out = scanIdent();
    if (out.empty())
      return fail(pos_, fmt::format("expected {}, found {}", what, describeHere()));
    pos_ += out.size();
    return true;
  }

  bool keyword(const char *kw) {
    std::string w = scanIdent();
    if (w != kw)
      return fail(pos_, fmt::format("expected '{}', found {}", kw, describeHere()));
    pos_ += w.size();
    return true;
  }

  bool acceptKeyword(const char *kw) {
    if (scanIdent() != kw)
      return false;
    pos_ += std::strlen(kw);
    return true;
  }

  // VALUE := "%" NAME
  bool valueName(std::string &out) {
    if (peek() != '%')
      return fail(pos_, fmt::format("expected a value (%name), found {}", describeHere()));
    ++pos_;
    out = scanIdentNoSkip();
    if (out.empty())
      return fail(pos_, "expected a name after '%'");
    pos_ += out.size();
    return true;
  }

  // A number token: int or float (with '.', an exponent, inf or nan).
  bool number(AttrValue &out, size_t &at) {
    skipSpace();
    at = pos_;
    size_t e = pos_;
    if (e < text_.size() && (text_[e] == '-' || text_[e] == '+'))
      ++e;
    bool isFloat = false;
    if (text_.compare(e, 3, "inf") == 0 || text_.compare(e, 3, "nan") == 0) {
      e += 3;
      isFloat = true;
    } else {
      size_t digits = e;
      while (e < text_.size() && text::isDigit(text_[e]))
        ++e;
      if (e == digits)
        return fail(at, fmt::format("expected a number, found {}", describeHere()));
      if (e < text_.size() && text_[e] == '.') {
        isFloat = true;
        ++e;
        while (e < text_.size() && text::isDigit(text_[e]))
          ++e;
      }
      if (e < text_.size() && (text_[e] == 'e' || text_[e] == 'E')) {
        size_t x = e + 1;
        if (x < text_.size() && (text_[x] == '-' || text_[x] == '+'))
          ++x;
        if (x < text_.size() && text::isDigit(text_[x])) {
          isFloat = true;
          e = x;
          while (e < text_.size() && text::isDigit(text_[e]))
            ++e;
        }
      }
    }
    if (e < text_.size() && text::isIdentChar(text_[e]))
      return fail(at, "malformed number");
    std::string tok = text_.substr(pos_, e - pos_);
    pos_ = e;
    errno = 0;
    if (isFloat) {
      out = std::strtod(tok.c_str(), nullptr);
    } else {
      long long v = std::strtoll(tok.c_str(), nullptr, 10);
      if (errno == ERANGE)
        return fail(at, fmt::format("integer {} is out of range", tok));
      out = (int64_t)v;
    }
    return true;
  }

  bool real(double &out) {
    AttrValue v;
    size_t at;
    if (!number(v, at))
      return false;
    out = std::holds_alternative<double>(v) ? std::get<double>(v)
                                            : (double)std::get<int64_t>(v);
    if (out == 0 && text_[at] == '-') // "-0", as -0.0 prints, is not +0
      out = -0.0;
    return true;
  }

  bool integer(int64_t &out, int64_t lo, int64_t hi, const char *what) {
    AttrValue v;
    size_t at;
    if (!number(v, at))
      return false;
    auto *i = std::get_if<int64_t>(&v);
    if (!i)
      return fail(at, fmt::format("expected an integer {}", what));
    if (*i < lo || *i > hi)
      return fail(at, fmt::format("{} {} is out of range [{}, {}]", what, *i, lo, hi));
    out = *i;
    return true;
  }

  bool stringLit(std::string &out) {
    size_t at = pos_;
    if (peek() != '"')
      return fail(pos_, fmt::format("expected a string, found {}", describeHere()));
    ++pos_;
    out.clear();
    while (true) {
      if (pos_ >= text_.size() || text_[pos_] == '\n')
        return fail(at, "unterminated string");
      char c = text_[pos_++];
      if (c == '"')
        return true;
      if (c != '\\') {
        out += c;
        continue;
      }
      char esc = pos_ < text_.size() ? text_[pos_++] : '\0';
      if (esc == '"' || esc == '\\') {
        out += esc;
      } else if (esc == 'n') {
        out += '\n';
      } else if (esc == 't') {
        out += '\t';
      } else if (esc == 'x' && pos_ + 1 < text_.size() &&
                 std::isxdigit((unsigned char)text_[pos_]) &&
                 std::isxdigit((unsigned char)text_[pos_ + 1])) {
        out += (char)std::strtol(text_.substr(pos_, 2).c_str(), nullptr, 16);
        pos_ += 2;
      } else {
        return fail(pos_ - 1, "unknown escape in string");
      }
    }
  }

  bool type(TensorType &out) {
    size_t at = (skipSpace(), pos_);
    std::string dt;
    if (!ident(dt, "a type (f32[...] or i32[...])"))
      return false;
    auto d = parseDType(dt);
    if (!d)
      return fail(at, fmt::format("unknown element type '{}' (expected f32 or i32)", dt));
    if (!expect('['))
      return false;
    Dims dims;
    int64_t numel = 1;
    if (!accept(']')) {
      do {
        int64_t n;
        if (!integer(n, 1, kMaxTensorElements, "dimension"))
          return false;
        if (n > kMaxTensorElements / numel)
          return fail(at, "type is too large (more than 2^40 elements)");
        numel *= n;
        dims.push_back(n);
      } while (accept(','));
      if (!expect(']'))
        return false;
    }
    out = TensorType(*d, std::move(dims));
    return true;
  }

protected:
  const std::string &text_;
  std::string filename_;
  size_t pos_ = 0;
  std::string error_;
};

} // namespace dlc
