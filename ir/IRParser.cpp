// Reads the IR text form (docs/IR.md) back into a Module. Every node is built
// through Builder, so a parsed graph obeys the same shape rules as a lowered
// one; a declared type that disagrees with its op's rule is a located error.
// Malformed input of any kind is an error value, never a crash or a throw.
#include "ir/IRParser.h"
#include "ir/PlanParser.h"
#include "ir/OpRules.h"
#include "ir/Builder.h"
#include "ir/Support.h"
#include "ir/Verifier.h"

#include <fmt/format.h>

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

using namespace text;

class Parser : TextReader {
public:
  Parser(const std::string &text, const std::string &filename)
      : TextReader(text, filename) {}

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
  Module *m_ = nullptr;
  std::map<std::string, std::shared_ptr<const std::string>> files_;

  // --- pieces of the grammar -------------------------------------------------

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
      return fail(at, fmt::format("unknown initializer '{}' (expected zeros, constant, normal "
                                  "or uniform)", kind));
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
      return fail(at, fmt::format("'{}' is already declared", name));
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
    std::map<std::pair<std::string, std::string>, size_t> rootAt; // (kind, name)
    size_t trainAt = 0;
  };

  bool use(FunctionState &fs, Node *&out) {
    size_t at = (skipSpace(), pos_);
    std::string n;
    if (!valueName(n))
      return false;
    auto it = fs.values.find(n);
    if (it == fs.values.end())
      return fail(at, fmt::format("use of undefined value %{}", n));
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
        return fail(at, fmt::format("duplicate attribute '{}'", key));
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
      return fail(at, fmt::format("redefinition of %{}", name));
    if (!expect('='))
      return false;
    size_t opAt = (skipSpace(), pos_);
    std::string opText;
    if (!ident(opText, "an op name"))
      return false;
    auto op = opByName(opText);
    if (!op)
      return fail(opAt, fmt::format("unknown op '{}'", opText));
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
      return fail(typeAt, fmt::format("type mismatch: declared {}, but {} gives {}",
                                      declared.str(), info.name, n->type.str()));
    DLC_ASSERT(n->name == name, fmt::format("parsed name %{} became %{}", name, n->name));
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
      std::vector<std::string> known;
      for (const OptimizerInfo &o : optimizers())
        known.push_back(o.name);
      return fail(optAt, fmt::format("unknown optimizer '{}' (expected one of {})", t.optimizer,
                                     fmt::join(known, ", ")));
    }
    if (!expect('('))
      return false;
    if (t.loss->type != TensorType::f32({}))
      return fail(at, fmt::format("the train loss %{} is {}, expected f32[]", t.loss->name,
                                  t.loss->type.str()));
    if (!accept(')')) {
      do {
        size_t kat = (skipSpace(), pos_);
        std::string k;
        double v;
        if (!ident(k, "a hyperparameter name"))
          return false;
        const HyperParam *hp = opt->find(k);
        if (!hp)
          return fail(kat, fmt::format("{} has no hyperparameter '{}'", opt->name, k));
        for (auto &h : t.hyper)
          if (h.first == k)
            return fail(kat, fmt::format("duplicate hyperparameter '{}'", k));
        if (!expect('='))
          return false;
        size_t vat = (skipSpace(), pos_);
        if (!real(v))
          return false;
        // The frontend's check, from the same table.
        if (std::string p = hp->problem(v); !p.empty())
          return fail(vat, fmt::format("{}: hyperparameter '{}' {}", opt->name, k, p));
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
          return fail(pat, fmt::format("unknown variable '{}'", p));
        if (!v->trainable || v->type.dtype != DType::F32)
          return fail(pat, fmt::format("'{}' is not a trainable f32 param", p));
        if (std::find(t.params.begin(), t.params.end(), p) != t.params.end())
          return fail(pat, fmt::format("'{}' is listed twice", p));
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
        return fail(at, fmt::format("duplicate '{} {}'", kw, name));
    if (kw != "output") {
      const VarDecl *v = m_->findVar(name);
      if (!v)
        return fail(at, fmt::format("unknown variable '{}'", name));
      if (v->type != n->type)
        return fail(at, fmt::format("variable '{}' is {}, but %{} is {}", name, v->type.str(),
                                    n->name, n->type.str()));
    }
    list.push_back({name, n});
    fs.rootAt[{kw, name}] = at;
    return true;
  }

  bool function() {
    size_t at = (skipSpace(), pos_);
    std::string name;
    if (!ident(name, "a function name"))
      return false;
    if (m_->findFunction(name))
      return fail(at, fmt::format("redefinition of function '{}'", name));
    if (!expect('{'))
      return false;
    FunctionState fs{&m_->addFunction(name), {}, {}, {}, 0};
    while (true) {
      char c = peek();
      if (c == '}') {
        ++pos_;
        break;
      }
      if (c == '\0' && pos_ >= text_.size())
        return fail(pos_, fmt::format("expected '}}' to close function '{}'", name));
      if (c == '%') {
        if (!node(fs))
          return false;
        continue;
      }
      size_t kwAt = pos_;
      std::string kw = scanIdent();
      if (kw == "train") {
        fs.trainAt = kwAt;
        pos_ += kw.size();
        if (!trainLine(fs, kwAt))
          return false;
      } else if (kw == "grad" || kw == "update" || kw == "output") {
        pos_ += kw.size();
        if (!rootLine(fs, kw))
          return false;
      } else {
        return fail(kwAt, fmt::format("expected a node, 'train', 'grad', 'update', 'output' "
                                      "or '}}', found {}", describeHere()));
      }
    }
    for (auto &g : fs.gradOf) {
      auto it = fs.values.find(g.target);
      if (it == fs.values.end())
        return fail(g.at, fmt::format("grad_of names an undefined value %{}", g.target));
      g.node->gradOf = it->second;
    }
    // Reported at the line at fault; a param's missing grad or update at the
    // train line that lists it.
    for (const EntryProblem &p : entryContractProblems(*fs.f)) {
      auto it = fs.rootAt.find({p.kind, p.name});
      bool atTrain = p.kind == "train" || it == fs.rootAt.end();
      return fail(atTrain ? fs.trainAt : it->second, p.message);
    }
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
        if (!parsePlan(*this, *m_))
          return false;
      } else {
        return fail(at, fmt::format("expected 'input', 'param', 'state', 'func' or 'plan', "
                                    "found {}", describeHere()));
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
