// Recursive-descent parser for the DSL. Grammar (newlines end statements,
// and are ignored inside parentheses and brackets):
//
//   file     := (fn | model)*
//   fn       := "fn" NAME "(" (arg ("," arg)*)? ")" block
//   model    := "model" NAME ("(" (arg ("," arg)*)? ")")? block
//   arg      := NAME ("=" expr)?
//   block    := "{" (stmt (NEWLINE | ";"))* "}"
//   stmt     := "input" NAME ":" type              (model only)
//             | "param" NAME ":" type "=" call
//             | "output" NAME "=" expr              (model only)
//             | "train" NAME "(" expr "," call ")"  (model only)
//             | "return" expr                       (fn only)
//             | NAME "=" expr
//   type     := DTYPE "[" (expr ("," expr)*)? "]"
//   expr     := term (("+" | "-") term)*
//   term     := unary (("*" | "/" | "@") unary)*
//   unary    := "-" unary | power
//   power    := primary ("**" unary)?
//   primary  := INT | FLOAT | NAME | call | "(" expr ")" | "[" (expr ("," expr)*)? "]"
//   call     := NAME "(" (expr ("," expr)*)? (NAME "=" expr ("," NAME "=" expr)*)? ")"
#pragma once

#include "frontend/AST.h"
#include "frontend/Lexer.h"

namespace dlc {

// Deepest nesting of parentheses, brackets, unary minus and ** the parser accepts,
// and the tallest expression tree (long operator chains); past them it
// reports an error instead of exhausting the stack.
constexpr int kMaxNesting = 200;
constexpr int kMaxExprHeight = 1000;

// Parses a whole file. Errors are reported to `diags`; the parser recovers at
// the next statement, so the returned program holds every statement it could
// read (check diags.hasErrors() before using it).
Program parseProgram(const std::vector<Token> &toks, DiagEngine &diags);

} // namespace dlc
