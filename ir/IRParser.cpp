// Reads the IR text form (docs/IR.md) back into a Module. Every node is built
// through Builder, so a parsed graph obeys the same shape rules as a lowered
// one; a declared type that disagrees with its op's rule is a located error.
// Malformed input of any kind is an error value, never a crash or a throw.
#include "ir/IRParser.h"
#include "ir/BufferIR.h"
#include "ir/OpRules.h"
#include "ir/Builder.h"
#include "ir/Support.h"
#include "ir/Verifier.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <unordered_map>

namespace dlc {

namespace {

bool isIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isIdentChar(char c) { return isIdentStart(c) || isDigit(c) || c == '.'; }
bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

class Parser {
public:
  Parser(const std::string &text, const std::string &filename)
      : text_(text), filename_(filename) {}

  std::unique_ptr<Module> run(std::string &error) {
    auto m = std::make_unique<Module>();
    m_ = m.get();
    if (!parseModule()) {
      error = error_;
      return nullptr;
    }
    return m;
  }

private:
  const std::string &text_;
  std::string filename_;
  size_t pos_ = 0;
  std::string error_;
  Module *m_ = nullptr;
  std::map<std::string, std::shared_ptr<const std::string>> files_;

  // --- diagnostics -----------------------------------------------------------

  bool fail(size_t at, const std::string &msg) {
    // At the end of input, point just past the last token, not at an empty line.
    if (at >= text_.size()) {
      at = text_.size();
      while (at > 0 && isSpace(text_[at - 1]))
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
    error_ = filename_ + ":" + std::to_string(line) + ":" + std::to_string(col) +
             ": error: " + msg + "\n" + src + "\n" + caret + "^";
    return false;
  }

  // --- lexing, on demand -----------------------------------------------------

  void skipSpace() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (isSpace(c)) {
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
    if (isIdentStart(text_[pos_])) {
      size_t e = pos_;
      while (e < text_.size() && isIdentChar(text_[e]))
        ++e;
      return "'" + text_.substr(pos_, e - pos_) + "'";
    }
    unsigned char c = text_[pos_];
    if (c < 0x20 || c >= 0x7f)
      return "a stray byte";
    return std::string("'") + (char)c + "'";
  }

  bool expect(char c) {
    if (peek() == c) {
      ++pos_;
      return true;
    }
    return fail(pos_, std::string("expected '") + c + "', found " + describeHere());
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
    if (e < text_.size() && isIdentStart(text_[e]))
      while (e < text_.size() && isIdentChar(text_[e]))
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
      return fail(pos_, std::string("expected ") + what + ", found " + describeHere());
    pos_ += out.size();
    return true;
  }

  bool keyword(const char *kw) {
    std::string w = scanIdent();
    if (w != kw)
      return fail(pos_, std::string("expected '") + kw + "', found " + describeHere());
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
      return fail(pos_, "expected a value (%name), found " + describeHere());
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
      while (e < text_.size() && isDigit(text_[e]))
        ++e;
      if (e == digits)
        return fail(at, "expected a number, found " + describeHere());
      if (e < text_.size() && text_[e] == '.') {
        isFloat = true;
        ++e;
        while (e < text_.size() && isDigit(text_[e]))
          ++e;
      }
      if (e < text_.size() && (text_[e] == 'e' || text_[e] == 'E')) {
        size_t x = e + 1;
        if (x < text_.size() && (text_[x] == '-' || text_[x] == '+'))
          ++x;
        if (x < text_.size() && isDigit(text_[x])) {
          isFloat = true;
          e = x;
          while (e < text_.size() && isDigit(text_[e]))
            ++e;
        }
      }
    }
    if (e < text_.size() && isIdentChar(text_[e]))
      return fail(at, "malformed number");
    std::string tok = text_.substr(pos_, e - pos_);
    pos_ = e;
    errno = 0;
    if (isFloat) {
      out = std::strtod(tok.c_str(), nullptr);
    } else {
      long long v = std::strtoll(tok.c_str(), nullptr, 10);
      if (errno == ERANGE)
        return fail(at, "integer " + tok + " is out of range");
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
    return true;
  }

  bool integer(int64_t &out, int64_t lo, int64_t hi, const char *what) {
    AttrValue v;
    size_t at;
    if (!number(v, at))
      return false;
    auto *i = std::get_if<int64_t>(&v);
    if (!i)
      return fail(at, std::string("expected an integer ") + what);
    if (*i < lo || *i > hi)
      return fail(at, std::string(what) + " " + std::to_string(*i) +
                          " is out of range [" + std::to_string(lo) + ", " +
                          std::to_string(hi) + "]");
    out = *i;
    return true;
  }

  bool stringLit(std::string &out) {
    size_t at = pos_;
    if (peek() != '"')
      return fail(pos_, "expected a string, found " + describeHere());
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

  // --- pieces of the grammar -------------------------------------------------

  bool type(TensorType &out) {
    size_t at = (skipSpace(), pos_);
    std::string dt;
    if (!ident(dt, "a type (f32[...] or i32[...])"))
      return false;
    auto d = parseDType(dt);
    if (!d)
      return fail(at, "unknown element type '" + dt + "' (expected f32 or i32)");
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

  // loc := "@" PATH ":" int ":" int, PATH a word or a quoted string.
  bool loc(SourceLoc &out) {
    size_t at = pos_;
    ++pos_; // '@'
    std::string path;
    if (pos_ < text_.size() && text_[pos_] == '"') {
      if (!stringLit(path))
        return false;
    } else {
      size_t e = pos_;
      while (e < text_.size() && !isSpace(text_[e]) && text_[e] != '#')
        ++e;
      // The path is everything before the last two ':'-separated fields.
      std::string word = text_.substr(pos_, e - pos_);
      size_t c2 = word.rfind(':');
      size_t c1 = c2 == std::string::npos || c2 == 0 ? std::string::npos
                                                     : word.rfind(':', c2 - 1);
      if (c1 == std::string::npos || c1 == 0)
        return fail(at, "expected a location @file:line:col");
      path = word.substr(0, c1);
      pos_ += c1;
    }
    int64_t line, col;
    if (pos_ >= text_.size() || text_[pos_] != ':')
      return fail(pos_, "expected ':' in location");
    ++pos_;
    if (!integer(line, 1, 1 << 30, "line number"))
      return false;
    if (pos_ >= text_.size() || text_[pos_] != ':')
      return fail(pos_, "expected ':' in location");
    ++pos_;
    if (!integer(col, 0, 1 << 30, "column number"))
      return false;
    auto &file = files_[path];
    if (!file)
      file = std::make_shared<const std::string>(path);
    out.file = file;
    out.line = (int)line;
    out.col = (int)col;
    return true;
  }

  bool optionalLoc(SourceLoc &out) {
    if (peek() != '@')
      return true;
    return loc(out);
  }

  bool init(Init &out) {
    size_t at = (skipSpace(), pos_);
    std::string kind;
    if (!ident(kind, "an initializer") || !expect('('))
      return false;
    int args;
    if (kind == "zeros") {
      out.kind = Init::Zeros, args = 0;
    } else if (kind == "constant") {
      out.kind = Init::Constant, args = 1;
    } else if (kind == "normal") {
      out.kind = Init::Normal, args = 2;
    } else if (kind == "uniform") {
      out.kind = Init::Uniform, args = 2;
    } else {
      return fail(at, "unknown initializer '" + kind +
                          "' (expected zeros, constant, normal or uniform)");
    }
    double *slots[2] = {&out.a, &out.b};
    for (int i = 0; i < args; ++i)
      if ((i && !expect(',')) || !real(*slots[i]))
        return false;
    return expect(')');
  }

  bool nameTaken(const std::string &n) {
    return m_->findInput(n) || m_->findVar(n);
  }

  bool decl(const std::string &kind) {
    std::string name;
    size_t at = (skipSpace(), pos_);
    if (!ident(name, "a name"))
      return false;
    if (nameTaken(name))
      return fail(at, "'" + name + "' is already declared");
    TensorType t;
    if (!expect(':') || !type(t))
      return false;
    Init in;
    if (peek() == '=') {
      if (kind == "input")
        return fail(pos_, "an input has no initializer");
      ++pos_;
      if (!init(in))
        return false;
    }
    SourceLoc l;
    if (!optionalLoc(l))
      return false;
    if (kind == "input")
      m_->inputs.push_back({name, t, l});
    else
      m_->vars.push_back({name, t, in, kind == "param", l});
    return true;
  }

  // --- functions -------------------------------------------------------------

  struct FunctionState {
    Function *f;
    std::unordered_map<std::string, Node *> values;
    struct PendingGradOf {
      Node *node;
      std::string target;
      size_t at;
    };
    std::vector<PendingGradOf> gradOf; // resolved at '}': may point forward
  };

  bool use(FunctionState &fs, Node *&out) {
    size_t at = (skipSpace(), pos_);
    std::string n;
    if (!valueName(n))
      return false;
    auto it = fs.values.find(n);
    if (it == fs.values.end())
      return fail(at, "use of undefined value %" + n);
    out = it->second;
    return true;
  }

  bool attrs(const OpInfo &info, Attrs &out) {
    do {
      size_t at = (skipSpace(), pos_);
      std::string key;
      if (!ident(key, "an attribute name") || !expect('='))
        return false;
      if (!info.findAttr(key)) // before the value: the key is what is wrong
        return fail(at, attrProblem(info.kind, key, AttrValue()));
      if (out.has(key))
        return fail(at, "duplicate attribute '" + key + "'");
      size_t vat = (skipSpace(), pos_);
      AttrValue v;
      if (peek() == '"') {
        std::string s;
        if (!stringLit(s))
          return false;
        v = s;
      } else if (accept('[')) {
        std::vector<int64_t> list;
        if (!accept(']')) {
          do {
            int64_t i;
            if (!integer(i, INT64_MIN, INT64_MAX, "list element"))
              return false;
            list.push_back(i);
          } while (accept(','));
          if (!expect(']'))
            return false;
        }
        v = list;
      } else if (!number(v, vat)) {
        return false;
      }
      if (std::string p = attrProblem(info.kind, key, v); !p.empty())
        return fail(vat, p);
      out.set(key, std::move(v));
    } while (accept(','));
    return expect('}');
  }

  bool node(FunctionState &fs) {
    size_t at = (skipSpace(), pos_);
    std::string name;
    if (!valueName(name))
      return false;
    if (fs.values.count(name))
      return fail(at, "redefinition of %" + name);
    if (!expect('='))
      return false;
    size_t opAt = (skipSpace(), pos_);
    std::string opText;
    if (!ident(opText, "an op name"))
      return false;
    auto op = opByName(opText);
    if (!op)
      return fail(opAt, "unknown op '" + opText + "'");
    const OpInfo &info = opInfo(*op);
    std::vector<Node *> operands;
    if (accept('(')) {
      do {
        Node *o;
        if (!use(fs, o))
          return false;
        operands.push_back(o);
      } while (accept(','));
      if (!expect(')'))
        return false;
    }
    Attrs a;
    if (accept('{') && !attrs(info, a))
      return false;
    if (!expect(':'))
      return false;
    size_t typeAt = (skipSpace(), pos_);
    TensorType declared;
    if (!type(declared))
      return false;
    SourceLoc l;
    if (!optionalLoc(l))
      return false;
    std::string gradTarget;
    size_t gradAt = 0;
    if (acceptKeyword("grad_of")) {
      gradAt = (skipSpace(), pos_);
      if (!valueName(gradTarget))
        return false;
    }
    Builder b(*fs.f);
    b.setLoc(l);
    std::string err;
    Node *n = b.tryCreate(*op, operands, a, name, info.typed() ? &declared : nullptr, err);
    if (!n)
      return fail(opAt, err);
    if (std::string p = sourceProblem(*m_, *op, a, declared); !p.empty())
      return fail(opAt, p);
    if (n->type != declared)
      return fail(typeAt, "type mismatch: declared " + declared.str() + ", but " +
                              info.name + " gives " + n->type.str());
    DLC_ASSERT(n->name == name, "parsed name %" + name + " became %" + n->name);
    fs.values[name] = n;
    if (!gradTarget.empty())
      fs.gradOf.push_back({n, gradTarget, gradAt});
    return true;
  }

  // train loss = %v, optimizer = NAME(k = num, ...), params = [NAME, ...]
  bool trainLine(FunctionState &fs, size_t at) {
    if (fs.f->train)
      return fail(at, "a function has at most one 'train' line");
    TrainSpec t;
    if (!keyword("loss") || !expect('=') || !use(fs, t.loss) || !expect(',') ||
        !keyword("optimizer") || !expect('='))
      return false;
    size_t optAt = (skipSpace(), pos_);
    if (!ident(t.optimizer, "an optimizer name"))
      return false;
    // The passes expand only these; anything else is the file's mistake,
    // which must not surface later as an internal error.
    const OptimizerInfo *opt = findOptimizer(t.optimizer);
    if (!opt) {
      std::string known;
      for (const OptimizerInfo &o : optimizers())
        known += (known.empty() ? "" : ", ") + o.name;
      return fail(optAt, "unknown optimizer '" + t.optimizer + "' (expected one of " +
                             known + ")");
    }
    if (!expect('('))
      return false;
    if (t.loss->type != TensorType::f32({}))
      return fail(at, "the train loss %" + t.loss->name + " is " + t.loss->type.str() +
                          ", expected f32[]");
    if (!accept(')')) {
      do {
        size_t kat = (skipSpace(), pos_);
        std::string k;
        double v;
        if (!ident(k, "a hyperparameter name"))
          return false;
        if (std::find(opt->hyper.begin(), opt->hyper.end(), k) == opt->hyper.end())
          return fail(kat, opt->name + " has no hyperparameter '" + k + "'");
        for (auto &h : t.hyper)
          if (h.first == k)
            return fail(kat, "duplicate hyperparameter '" + k + "'");
        if (!expect('=') || !real(v))
          return false;
        t.hyper.push_back({k, v});
      } while (accept(','));
      if (!expect(')'))
        return false;
    }
    if (!expect(',') || !keyword("params") || !expect('=') || !expect('['))
      return false;
    if (!accept(']')) {
      do {
        size_t pat = (skipSpace(), pos_);
        std::string p;
        if (!ident(p, "a variable name"))
          return false;
        const VarDecl *v = m_->findVar(p);
        if (!v)
          return fail(pat, "unknown variable '" + p + "'");
        if (!v->trainable || v->type.dtype != DType::F32)
          return fail(pat, "'" + p + "' is not a trainable f32 param");
        if (std::find(t.params.begin(), t.params.end(), p) != t.params.end())
          return fail(pat, "'" + p + "' is listed twice");
        t.params.push_back(p);
      } while (accept(','));
      if (!expect(']'))
        return false;
    }
    fs.f->train = std::move(t);
    return true;
  }

  // grad|update|output NAME = %v
  bool rootLine(FunctionState &fs, const std::string &kw) {
    size_t at = (skipSpace(), pos_);
    std::string name;
    Node *n;
    if (!ident(name, "a name") || !expect('=') || !use(fs, n))
      return false;
    auto &list = kw == "grad" ? fs.f->grads : kw == "update" ? fs.f->updates : fs.f->outputs;
    for (auto &p : list)
      if (p.first == name)
        return fail(at, "duplicate '" + kw + " " + name + "'");
    if (kw != "output") {
      const VarDecl *v = m_->findVar(name);
      if (!v)
        return fail(at, "unknown variable '" + name + "'");
      if (v->type != n->type)
        return fail(at, "variable '" + name + "' is " + v->type.str() + ", but %" +
                            n->name + " is " + n->type.str());
    }
    list.push_back({name, n});
    return true;
  }

  bool function() {
    size_t at = (skipSpace(), pos_);
    std::string name;
    if (!ident(name, "a function name"))
      return false;
    if (m_->findFunction(name))
      return fail(at, "redefinition of function '" + name + "'");
    if (!expect('{'))
      return false;
    FunctionState fs{&m_->addFunction(name), {}, {}};
    while (true) {
      char c = peek();
      if (c == '}') {
        ++pos_;
        break;
      }
      if (c == '\0' && pos_ >= text_.size())
        return fail(pos_, "expected '}' to close function '" + name + "'");
      if (c == '%') {
        if (!node(fs))
          return false;
        continue;
      }
      size_t kwAt = pos_;
      std::string kw = scanIdent();
      if (kw == "train") {
        pos_ += kw.size();
        if (!trainLine(fs, kwAt))
          return false;
      } else if (kw == "grad" || kw == "update" || kw == "output") {
        pos_ += kw.size();
        if (!rootLine(fs, kw))
          return false;
      } else {
        return fail(kwAt, "expected a node, 'train', 'grad', 'update', 'output' or "
                          "'}', found " + describeHere());
      }
    }
    for (auto &g : fs.gradOf) {
      auto it = fs.values.find(g.target);
      if (it == fs.values.end())
        return fail(g.at, "grad_of names an undefined value %" + g.target);
      g.node->gradOf = it->second;
    }
    return true;
  }

  // --- plans (the buffer IR, docs/IR.md) ------------------------------------

  // "k3" or "b12": the next of a numbered sequence (`expected` is its index).
  bool numbered(char prefix, const char *what, int &out, int limit) {
    size_t at = (skipSpace(), pos_);
    std::string w;
    if (!ident(w, what))
      return false;
    if (w.size() < 2 || w[0] != prefix ||
        !std::all_of(w.begin() + 1, w.end(), [](char c) { return isDigit(c); }) ||
        w.size() > 10)
      return fail(at, std::string("expected ") + what + " (" + prefix + "0, " + prefix +
                          "1, ...), found '" + w + "'");
    out = std::stoi(w.substr(1));
    if (limit >= 0 && out >= limit)
      return fail(at, std::string(prefix == 'k' ? "no kernel " : "no buffer ") + w +
                          " (there are " + std::to_string(limit) + ")");
    return true;
  }

  bool planValue(const std::unordered_map<std::string, Node *> &values, Node *&out) {
    size_t at = (skipSpace(), pos_);
    std::string n;
    if (!valueName(n))
      return false;
    auto it = values.find(n);
    if (it == values.end())
      return fail(at, "the function has no value %" + n);
    out = it->second;
    return true;
  }

  bool planValues(const std::unordered_map<std::string, Node *> &values,
                  std::vector<Node *> &out) {
    while (peek() == '%') {
      Node *n;
      if (!planValue(values, n))
        return false;
      out.push_back(n);
    }
    return true;
  }

  bool kernelLine(Plan &p, const std::unordered_map<std::string, Node *> &values) {
    int k;
    if (!numbered('k', "a kernel", k, -1))
      return false;
    if (k != (int)p.kernels.size())
      return fail(pos_, "kernels are numbered in order: expected k" +
                            std::to_string(p.kernels.size()));
    Kernel kern;
    if (acceptKeyword("anchor") && !planValue(values, kern.anchor))
      return false;
    while (true) {
      if (acceptKeyword("prologue")) {
        if (!planValues(values, kern.prologue))
          return false;
      } else if (acceptKeyword("nodes")) {
        if (!planValues(values, kern.nodes))
          return false;
      } else if (acceptKeyword("hoisted")) {
        if (!planValues(values, kern.hoisted))
          return false;
      } else if (acceptKeyword("stores")) {
        if (!planValues(values, kern.stores))
          return false;
      } else if (acceptKeyword("refused")) {
        std::string r;
        if (!stringLit(r))
          return false;
        kern.refused.push_back(r);
      } else {
        break;
      }
    }
    if (kern.anchor && (kern.nodes.empty() || kern.nodes[0] != kern.anchor))
      return fail(pos_, "a kernel's anchor must be the first of its nodes");
    p.kernels.push_back(std::move(kern));
    return true;
  }

  bool bufferLine(Plan &p, const std::unordered_map<std::string, Node *> &values) {
    int b;
    if (!numbered('b', "a buffer", b, -1))
      return false;
    if (b != (int)p.buffers.size())
      return fail(pos_, "buffers are numbered in order: expected b" +
                            std::to_string(p.buffers.size()));
    Buffer buf;
    size_t kindAt;
    std::string kind;
    if (!stringLit(buf.name) || ((kindAt = (skipSpace(), pos_)), !ident(kind, "a buffer kind")))
      return false;
    if (kind == "arena") {
      buf.kind = BufferKind::Arena;
      int64_t first, last;
      if (!expect('@') || !integer(buf.offset, 0, INT64_MAX / 2, "offset") ||
          !keyword("live") || !expect('[') || !integer(first, 0, 1 << 30, "step") ||
          !expect(',') || !integer(last, first, 1 << 30, "step") || !expect(']'))
        return false;
      buf.first = (int)first;
      buf.last = (int)last;
    } else if (kind == "state" || kind == "input" || kind == "output") {
      buf.kind = kind == "state"   ? BufferKind::State
                 : kind == "input" ? BufferKind::Input
                                   : BufferKind::Output;
      if (!stringLit(buf.ref))
        return false;
    } else {
      return fail(kindAt, "unknown buffer kind '" + kind +
                              "' (expected arena, state, input or output)");
    }
    if (!expect(':') || !type(buf.type))
      return false;
    if (acceptKeyword("holds")) {
      std::vector<Node *> held;
      if (!planValues(values, held))
        return false;
      for (Node *n : held)
        if (!p.bufferOf.emplace(n, b).second)
          return fail(pos_, "%" + n->name + " is held by two buffers");
    }
    p.buffers.push_back(std::move(buf));
    return true;
  }

  bool callLine(Plan &p) {
    KernelCall c;
    if (!numbered('k', "a kernel", c.kernel, (int)p.kernels.size()) || !expect('('))
      return false;
    if (!accept(')')) {
      do {
        size_t at = (skipSpace(), pos_);
        std::string use;
        if (!ident(use, "in, out or inout"))
          return false;
        KernelArg a;
        if (use == "in")
          a.access = Access::In;
        else if (use == "out")
          a.access = Access::Out;
        else if (use == "inout")
          a.access = Access::InOut;
        else
          return fail(at, "expected in, out or inout, found '" + use + "'");
        if (!numbered('b', "a buffer", a.buffer, (int)p.buffers.size()))
          return false;
        c.args.push_back(a);
      } while (accept(','));
      if (!expect(')'))
        return false;
    }
    p.calls.push_back(std::move(c));
    return true;
  }

  // plan NAME [unfused] { kernel... buffer... call... copy... arena ... }
  bool plan() {
    size_t at = (skipSpace(), pos_);
    std::string name;
    if (!ident(name, "a function name"))
      return false;
    Function *f = m_->findFunction(name);
    if (!f)
      return fail(at, "plan for undefined function '" + name + "'");
    if (!f->plan.kernels.empty() || f->plan.planned)
      return fail(at, "a second plan for function '" + name + "'");
    std::unordered_map<std::string, Node *> values;
    for (auto &n : f->nodes)
      values[n->name] = n.get();
    Plan p;
    p.fused = !acceptKeyword("unfused");
    if (!expect('{'))
      return false;
    while (!accept('}')) {
      size_t kwAt = (skipSpace(), pos_);
      if (acceptKeyword("kernel")) {
        if (!kernelLine(p, values))
          return false;
      } else if (acceptKeyword("buffer")) {
        if (!bufferLine(p, values))
          return false;
      } else if (acceptKeyword("call")) {
        if (!callLine(p))
          return false;
      } else if (acceptKeyword("copy")) {
        BufferCopy c;
        if (!numbered('b', "a buffer", c.to, (int)p.buffers.size()) || !expect('<') ||
            !expect('-') || !numbered('b', "a buffer", c.from, (int)p.buffers.size()))
          return false;
        p.copies.push_back(c);
      } else if (acceptKeyword("arena")) {
        if (!integer(p.arenaBytes, 0, INT64_MAX / 2, "arena size") || !expect(',') ||
            !keyword("lower_bound") || !integer(p.lowerBound, 0, INT64_MAX / 2, "bytes") ||
            !expect(',') || !keyword("without_reuse") ||
            !integer(p.withoutReuse, 0, INT64_MAX / 2, "bytes"))
          return false;
        p.planned = true;
      } else {
        return fail(kwAt, "expected 'kernel', 'buffer', 'call', 'copy', 'arena' or '}', "
                          "found " + describeHere());
      }
    }
    for (auto &n : f->nodes)
      p.computeNodes += n->info().fusion != FusionKind::Source && !n->info().isView();
    f->plan = std::move(p);
    // A plan is read only if it is one the compiler could have made.
    std::vector<std::string> problems = verifyPlan(*f);
    if (!problems.empty())
      return fail(at, "invalid plan: " + problems.front());
    return true;
  }

  bool parseModule() {
    if (!keyword("model") || !ident(m_->name, "the model's name"))
      return false;
    bool sawFunction = false, sawPlan = false;
    while (!atEnd()) {
      size_t at = pos_;
      std::string kw = scanIdent();
      if (kw == "input" || kw == "param" || kw == "state") {
        if (sawFunction)
          return fail(at, "declarations must come before the first function");
        pos_ += kw.size();
        if (!decl(kw))
          return false;
      } else if (kw == "func") {
        if (sawPlan)
          return fail(at, "functions must come before the first plan");
        pos_ += kw.size();
        sawFunction = true;
        if (!function())
          return false;
      } else if (kw == "plan") {
        pos_ += kw.size();
        sawPlan = true;
        if (!plan())
          return false;
      } else {
        return fail(at, "expected 'input', 'param', 'state', 'func' or 'plan', found " +
                            describeHere());
      }
    }
    return true;
  }
};

} // namespace

std::unique_ptr<Module> parseModuleText(const std::string &text,
                                        const std::string &filename,
                                        std::string &error) {
  return Parser(text, filename).run(error);
}

} // namespace dlc
