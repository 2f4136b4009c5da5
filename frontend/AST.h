// The DSL's syntax tree, as the parser builds it: a file is a list of `fn`
// declarations and at most one `model`. Nothing here is checked yet; the
// lowering (Lower.h) gives names meaning and tensors shapes.
#pragma once

#include "ir/SourceLoc.h"

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace dlc {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  // Index: args[0] indexed by args[1..] (x[i], x[:, t, 0:14]); Range: one
  // `lo:hi` item of an index, either bound optional (`hasLo`, `hasHi`).
  enum Kind { Int, Float, String, Ident, Call, Binary, Neg, List, Index, Range };
  Kind kind;
  SourceLoc loc;          // the token that names the expression (operator, callee)
  int64_t intValue = 0;   // Int
  double floatValue = 0;  // Float
  std::string name;       // Ident, Call (callee), String (its contents)
  bool hasLo = false, hasHi = false; // Range: which bounds args holds, in order
  std::string op;         // Binary: + - * / @ **
  std::vector<ExprPtr> args;          // operands, elements, call arguments
  std::vector<std::string> argNames;  // Call: keyword per argument, "" if positional
  std::vector<SourceLoc> argNameLocs; // Call: where each keyword is written
  int depth = 1;                      // tree height, bounded by the parser

  Expr(Kind k, SourceLoc l) : kind(k), loc(std::move(l)) {}
};

// dtype[d0, d1, ...]: the dims are constant expressions of the scope.
struct TypeExpr {
  std::string dtype;
  SourceLoc loc;
  std::vector<ExprPtr> dims;
};

struct Stmt {
  // Error: a statement that did not parse (its error is reported). It binds
  // `poisoned` and every name its `body` (blocks on its line) binds to an
  // invalid value, so that nothing it would have made is reported missing.
  enum Kind { Input, Param, Let, Output, Train, Return, For, Error };
  Kind kind = Error;
  SourceLoc loc;      // the statement's first token
  std::string name;   // bound name; Train: the entry name
  SourceLoc nameLoc;  // For: the loop variable
  TypeExpr type;      // Input, Param
  ExprPtr value;      // Param: initializer call; Let/Output/Return: the value;
                      // Train: a Call whose args are (loss, optimizer(...));
                      // For: the range(...) call
  std::vector<Stmt> body; // For; Error: the statements of its blocks
  std::vector<std::string> poisoned; // Error
};

struct FnParam {
  std::string name;
  SourceLoc loc;
  ExprPtr dflt; // may be null
  bool poisoned = false; // in a header that did not parse: its value is invalid
};

struct FnDecl {
  std::string name;
  SourceLoc loc;
  std::vector<FnParam> params;
  std::vector<Stmt> body;
  bool broken = false; // its header did not parse: a call is an invalid value
};

struct ModelDecl {
  std::string name;
  SourceLoc loc;
  std::vector<FnParam> constants; // header: `batch = 128`
  std::vector<Stmt> body;
  bool broken = false; // its header did not parse
};

struct Program {
  std::vector<std::unique_ptr<FnDecl>> fns;
  std::unique_ptr<ModelDecl> model;
};

// One node per line, two spaces of indent per level, each with line:col.
void printAst(const Program &p, std::ostream &out);

} // namespace dlc
