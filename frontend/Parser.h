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
//             | "for" NAME "in" call block          (call: range(...))
//             | NAME "=" expr
//   type     := DTYPE "[" (expr ("," expr)*)? "]"
//   expr     := term (("+" | "-") term)*
//   term     := unary (("*" | "/" | "//" | "@") unary)*
//   unary    := "-" unary | power
//   power    := postfix ("**" unary)?
//   postfix  := primary ("[" item ("," item)* "]")*
//   item     := expr | expr? ":" expr?
//   primary  := INT | FLOAT | STRING | NAME | call | "(" expr ")"
//             | "[" (expr ("," expr)*)? "]"
// A NAME may be dotted (dense_1.w); a STRING is "..." on one line.
//   call     := NAME "(" (expr ("," expr)*)? (NAME "=" expr ("," NAME "=" expr)*)? ")"
#pragma once

#include "frontend/AST.h"
#include "frontend/Lexer.h"

namespace dlc {

// Deepest nesting of parentheses, brackets, unary minus and ** the parser
// accepts (and of blocks), and the tallest expression tree (long operator
// chains); past them it reports an error instead of exhausting the stack.
constexpr int kMaxNesting = 200;
constexpr int kMaxExprHeight = 1000;

// Parses a whole file. Errors are reported to `diags`, one per statement
// that does not parse; such a statement is a Stmt::Error in the returned
// program, naming what it would have bound, and the others are all there
// (check diags.hasErrors() before using the program for anything but
// lowering, which reports the mistakes it finds in them).
Program parseProgram(const std::vector<Token> &toks, DiagEngine &diags);

} // namespace dlc
