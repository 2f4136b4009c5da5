// The `--emit=ast` dump: one syntax node per line, indented by depth, each
// ending with its line:col so a student can map it back to the source.
#include "frontend/AST.h"

#include <fmt/format.h>

#include <ostream>

namespace dlc {

namespace {

std::string at(const SourceLoc &l) { return fmt::format("  @{}:{}", l.line, l.col); }

std::string indent(int depth) { return std::string(depth * 2, ' '); }

class AstPrinter {
public:
  explicit AstPrinter(std::ostream &out) : out_(out) {}

  void expr(const Expr &e, int depth, const std::string &label = "") {
    std::string what;
    switch (e.kind) {
    case Expr::Int: what = fmt::format("int {}", e.intValue); break;
    case Expr::Float: what = fmt::format("float {:.9g}", e.floatValue); break;
    case Expr::Ident: what = fmt::format("ident {}", e.name); break;
    case Expr::Call: what = fmt::format("call {}", e.name); break;
    case Expr::Binary: what = fmt::format("binary {}", e.op); break;
    case Expr::Neg: what = "neg"; break;
    case Expr::List: what = "list"; break;
    case Expr::String: what = fmt::format("string \"{}\"", e.name); break;
    case Expr::Index: what = "index"; break;
    case Expr::Range:
      what = fmt::format("range {}:{}", e.hasLo ? "lo" : "", e.hasHi ? "hi" : "");
      break;
    }
    out_ << fmt::format("{}{}{}{}\n", indent(depth), label, what, at(e.loc));
    for (size_t i = 0; i < e.args.size(); ++i) {
      bool kw = e.kind == Expr::Call && !e.argNames[i].empty();
      expr(*e.args[i], depth + 1, kw ? fmt::format("{} = ", e.argNames[i]) : "");
    }
  }

  void type(const TypeExpr &t, int depth) {
    out_ << fmt::format("{}type {}{}\n", indent(depth), t.dtype, at(t.loc));
    for (auto &d : t.dims)
      expr(*d, depth + 1);
  }

  void stmt(const Stmt &s, int depth) {
    static const char *kinds[] = {"input", "param", "let", "output", "train", "return", "for",
                                  "error"};
    out_ << fmt::format("{}{}{}{}\n", indent(depth), kinds[s.kind],
                        s.kind != Stmt::Return ? fmt::format(" {}", s.name) : "", at(s.loc));
    if (s.kind == Stmt::Input || s.kind == Stmt::Param)
      type(s.type, depth + 1);
    if (s.value && s.kind == Stmt::Train) {
      for (size_t i = 0; i < s.value->args.size(); ++i) {
        const std::string &kw = s.value->argNames[i];
        expr(*s.value->args[i], depth + 1, kw.empty() ? "" : fmt::format("{} = ", kw));
      }
    } else if (s.value) {
      expr(*s.value, depth + 1);
    }
    for (auto &inner : s.body)
      stmt(inner, depth + 1);
  }

  void params(const std::vector<FnParam> &ps, const char *what, int depth) {
    for (auto &p : ps) {
      out_ << fmt::format("{}{} {}{}\n", indent(depth), what, p.name, at(p.loc));
      if (p.dflt)
        expr(*p.dflt, depth + 1, "default = ");
    }
  }

  void program(const Program &p) {
    for (auto &f : p.fns) {
      out_ << fmt::format("fn {}{}\n", f->name, at(f->loc));
      params(f->params, "arg", 1);
      for (auto &s : f->body)
        stmt(s, 1);
    }
    if (const ModelDecl *m = p.model.get()) {
      out_ << fmt::format("model {}{}\n", m->name, at(m->loc));
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
