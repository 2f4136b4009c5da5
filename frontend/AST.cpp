// The `--emit=ast` dump: one syntax node per line, indented by depth, each
// ending with its line:col so a student can map it back to the source.
#include "frontend/AST.h"

#include <cstdio>

namespace dlc {

namespace {

std::string at(const SourceLoc &l) {
  return "  @" + std::to_string(l.line) + ":" + std::to_string(l.col);
}

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

class AstPrinter {
public:
  explicit AstPrinter(std::ostream &out) : out_(out) {}

  void expr(const Expr &e, int depth, const std::string &label = "") {
    std::string pad(depth * 2, ' ');
    out_ << pad << label;
    switch (e.kind) {
    case Expr::Int: out_ << "int " << e.intValue; break;
    case Expr::Float: out_ << "float " << number(e.floatValue); break;
    case Expr::Ident: out_ << "ident " << e.name; break;
    case Expr::Call: out_ << "call " << e.name; break;
    case Expr::Binary: out_ << "binary " << e.op; break;
    case Expr::Neg: out_ << "neg"; break;
    case Expr::List: out_ << "list"; break;
    case Expr::String: out_ << "string \"" << e.name << "\""; break;
    case Expr::Index: out_ << "index"; break;
    case Expr::Range:
      out_ << "range " << (e.hasLo ? "lo" : "") << ":" << (e.hasHi ? "hi" : "");
      break;
    }
    out_ << at(e.loc) << "\n";
    for (size_t i = 0; i < e.args.size(); ++i) {
      bool kw = e.kind == Expr::Call && !e.argNames[i].empty();
      expr(*e.args[i], depth + 1, kw ? e.argNames[i] + " = " : "");
    }
  }

  void type(const TypeExpr &t, int depth) {
    out_ << std::string(depth * 2, ' ') << "type " << t.dtype << at(t.loc) << "\n";
    for (auto &d : t.dims)
      expr(*d, depth + 1);
  }

  void stmt(const Stmt &s, int depth) {
    static const char *kinds[] = {"input", "param", "let", "output", "train", "return", "for",
                                  "error"};
    out_ << std::string(depth * 2, ' ') << kinds[s.kind];
    if (s.kind != Stmt::Return)
      out_ << " " << s.name;
    out_ << at(s.loc) << "\n";
    if (s.kind == Stmt::Input || s.kind == Stmt::Param)
      type(s.type, depth + 1);
    if (s.value && s.kind == Stmt::Train) {
      for (size_t i = 0; i < s.value->args.size(); ++i) {
        const std::string &kw = s.value->argNames[i];
        expr(*s.value->args[i], depth + 1, kw.empty() ? "" : kw + " = ");
      }
    } else if (s.value) {
      expr(*s.value, depth + 1);
    }
    for (auto &inner : s.body)
      stmt(inner, depth + 1);
  }

  void params(const std::vector<FnParam> &ps, const char *what, int depth) {
    for (auto &p : ps) {
      out_ << std::string(depth * 2, ' ') << what << " " << p.name << at(p.loc) << "\n";
      if (p.dflt)
        expr(*p.dflt, depth + 1, "default = ");
    }
  }

  void program(const Program &p) {
    for (auto &f : p.fns) {
      out_ << "fn " << f->name << at(f->loc) << "\n";
      params(f->params, "arg", 1);
      for (auto &s : f->body)
        stmt(s, 1);
    }
    if (const ModelDecl *m = p.model.get()) {
      out_ << "model " << m->name << at(m->loc) << "\n";
      params(m->constants, "const", 1);
      for (auto &s : m->body)
        stmt(s, 1);
    }
  }

private:
  std::ostream &out_;
};

} // namespace

void printAst(const Program &p, std::ostream &out) { AstPrinter(out).program(p); }

} // namespace dlc
