// Semantic analysis and lowering in one walk: the model body is evaluated
// statement by statement, with compile-time values (integers, numbers,
// functions, lists) computed on the spot and tensor expressions appended to
// one graph whose shapes come from dlc::Builder (so shape rules live only in
// ir/OpRules.cpp). Calls to DSL functions are inlined, each call an instance
// ("dense_1") that names its params and nodes. At the end every entry point
// takes the part of the graph it depends on.
#pragma once

#include "frontend/AST.h"
#include "frontend/Diagnostics.h"
#include "frontend/Frontend.h"
#include "ir/Builder.h"

#include <map>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace dlc {

// What an expression evaluates to. Error means "already reported": anything
// computed from an Error is an Error too, silently, so one mistake gives one
// message.
struct Value {
  // Str: a string ("same"); Instance: a layer instance named by its
  // prefix (D, dense_1), which stands for its params in `params = [...]`.
  enum Kind { Error, Absent, Tensor, Int, Float, Fn, List, Str, Instance };
  Kind kind = Error;
  Node *node = nullptr;     // Tensor
  int64_t i = 0;            // Int
  double f = 0;             // Float
  std::string fn;           // Fn: the function's name; Str: the text;
                            // Instance: the prefix
  std::vector<Value> list;  // List

  static Value tensor(Node *n) { Value v; v.kind = Tensor; v.node = n; return v; }
  static Value integer(int64_t x) { Value v; v.kind = Int; v.i = x; return v; }
  static Value number(double x) { Value v; v.kind = Float; v.f = x; return v; }
  static Value function(std::string name) { Value v; v.kind = Fn; v.fn = std::move(name); return v; }
  static Value absent() { Value v; v.kind = Absent; return v; }
  static Value string(std::string s) { Value v; v.kind = Str; v.fn = std::move(s); return v; }
  static Value instance(std::string p) { Value v; v.kind = Instance; v.fn = std::move(p); return v; }

  bool ok() const { return kind != Error; }
  bool isNumber() const { return kind == Int || kind == Float; }
  double num() const { return kind == Int ? (double)i : f; }
  std::string describe() const; // "tensor f32[128, 784]", "integer 3", "function 'relu'"
};

class Lowerer;
// A primitive function implemented in C++ (Builtins.cpp), or an op of
// ir/Ops.def flagged Builtin. `args` holds one Value per declared parameter,
// Absent where an optional one was omitted.
struct Builtin {
  std::string name;
  std::vector<std::string> params;
  size_t required;
  std::function<Value(Lowerer &, const Expr &call, std::vector<Value> &args)> apply;
};
const Builtin *findBuiltin(const std::string &name);
std::vector<std::string> builtinNames();

// Names that are only meaningful in one place (initializers after a param's
// '=', optimizers in a train statement); used for targeted messages.
bool isInitializerName(const std::string &name);
bool isOptimizerName(const std::string &name);

class Lowerer {
public:
  Lowerer(DiagEngine &diags, std::shared_ptr<const std::string> preludeFile,
          const FrontendOptions &opts);

  // Lowers `model` using the functions of the user's file and the prelude
  // (user functions shadow prelude ones). Returns null when errors were reported.
  std::unique_ptr<Module> run(const Program &user, const Program &prelude);

  // --- services for Builtins.cpp ---------------------------------------------
  // Reports an error at `loc`; inside prelude code the error moves to the
  // user's call site, with a note pointing into the prelude.
  // `notes` (a previous definition) come before the call-chain notes.
  void error(const SourceLoc &loc, const std::string &message,
             std::vector<DiagNote> notes = {});
  // A warning, placed as error() places errors; compilation goes on.
  void warning(const SourceLoc &loc, const std::string &message,
               std::vector<DiagNote> notes = {});
  // Warns when a loss that takes logits is given the output of a softmax
  // (or, for binary_cross_entropy, of a sigmoid): a literal port of a Keras
  // model whose last layer has activation=softmax. `fname` is the loss,
  // `param` the argument's name.
  void warnIfNotLogits(const std::string &fname, const std::string &param,
                       const Value &v, const SourceLoc &callLoc);
  // Appends a checked node; on a shape error reports it at `loc` (renaming the
  // IR op in the message to `userName` when given) and returns Error.
  Value emit(OpKind op, std::vector<Node *> operands, const SourceLoc &loc,
             Attrs attrs = {}, const TensorType *type = nullptr,
             const char *userName = nullptr);
  // A tensor operand: numbers become f32[] constants, other kinds an error.
  Node *asTensor(const Value &v, const SourceLoc &loc, const std::string &what);
  // A compile-time integer (an integral number is accepted).
  bool asInt(const Value &v, const SourceLoc &loc, const std::string &what,
             int64_t &out);
  // Binds a call's arguments to `params` (the first `required` mandatory):
  // one expression per parameter, null where omitted. Reports arity and
  // keyword errors as "<fname>: ..." and returns false.
  // With `instanceName` set, a keyword `name` that is not one of `params`
  // is left out and returned there (a user function's instance name).
  bool bindArgs(const Expr &call, const std::string &fname,
                const std::vector<std::string> &params, size_t required,
                const char *what, std::vector<const Expr *> &slots,
                const Expr **instanceName = nullptr);
  // bindArgs, then evaluates each argument (absent ones as Value::absent());
  // false after a diagnostic.
  bool evalArgs(const Expr &call, const std::string &fname,
                const std::vector<std::string> &params, size_t required,
                std::vector<Value> &args, const Expr **instanceName = nullptr,
                std::vector<const Expr *> *argExprs = nullptr);
  Value eval(const Expr &e);
  // The f32[] counter the dropout masks of train entries are keyed by,
  // a state variable made on first use; and a fresh seed per dropout call.
  Node *dropoutStep(const SourceLoc &loc);
  int64_t nextDropoutSeed() { return ++dropouts_; }

private:
  struct Binding {
    // Poison: a name a statement that did not parse would have bound; its
    // value is Error, and binding it again is never a mistake.
    enum Kind { Const, Input, Param, Let, Arg, Output, Poison };
    Value value;
    Kind kind;
    SourceLoc loc;
    // Arg: the caller's argument expression (null for a default), read in
    // the parent frame, so a bad value can be traced to a -D flag.
    const Expr *source = nullptr;
  };
  struct Frame {
    Frame *parent = nullptr;
    const FnDecl *fn = nullptr; // null: the model body
    SourceLoc callLoc;
    std::string prefix; // instance name, "" in the model body
    std::map<std::string, Binding> env;
    std::map<std::string, int> instances; // per callee, for "dense_2"
    // A call of an instance already made (name = "D" given again): its
    // params are the first call's.
    bool sharing = false;
    bool shareMismatch = false; // reported once per call, not once per param
    bool returned = false;
    // A statement of the body did not parse: a missing 'return' may be in it.
    bool broken = false;
    Value result;
  };
  struct TrainEntry {
    std::string name;
    SourceLoc loc;
    TrainSpec spec;
  };

  void report(bool warn, const SourceLoc &loc, const std::string &message,
              std::vector<DiagNote> notes);
  void lowerModel(const ModelDecl &m);
  void lowerStmt(const Stmt &s);
  void bind(const std::string &name, Binding::Kind kind, const Value &v,
            const SourceLoc &loc);
  // Binds every name `s` (a statement that did not parse) would have bound.
  void poison(const Stmt &s);
  bool evalType(const TypeExpr &t, TensorType &out);
  bool evalInit(const Expr &e, const TensorType &t, Init &out);
  void lowerTrain(const Stmt &s);
  void lowerFor(const Stmt &s);
  bool trainParams(const Expr &list, const Node *loss, std::vector<std::string> &out);
  Value evalIndex(const Expr &e);
  Value lookupParamOrInstance(const std::string &name);
  std::string overriddenConstantIn(const Expr &e, const Frame &frame) const;
public:
  // ": -Dbatch=0 on the command line sets 'batch'" when `e` reads a model
  // constant a -D flag set, else "": a bad value is the flag's mistake.
  std::string blameFlag(const Expr &e) const;
  // Whether a bad value from `e` is to be reported: always, unless it comes
  // from a -D flag already named in an error (one flag, one message).
  bool firstBlame(const Expr &e);
private:
  Value evalBinary(const Expr &e);
  Value evalCall(const Expr &e);
  Value callUser(const FnDecl &f, const Expr &call);
  const FnDecl *findFn(const std::string &name) const;
  std::string nodeName(const std::string &base) const;
  bool isPrelude(const SourceLoc &l) const { return l.file == preludeFile_; }
  void reportUnknown(const std::string &name, const SourceLoc &loc, bool asCall);
  // What a function name may be: the names a call can reach (builtins, DSL
  // functions, locals holding a function), for "did you mean".
  std::vector<std::string> functionNames() const;
  // Copies what `roots` need from graph_ into dst. For an inference entry
  // (`inference`), dropout is the identity and is left out.
  void extractFunction(Function &dst, std::vector<Node *> roots,
                       std::map<const Node *, Node *> &map, bool inference);
  // The node of the model's first output when a train entry with `loss` can
  // output it too (FrontendOptions::scoresInTrainEntries), else null.
  Node *scoresForTrainEntry(const Node *loss) const;

  DiagEngine &diags_;
  std::shared_ptr<const std::string> preludeFile_;
  const FrontendOptions &opts_;
  std::map<std::string, const FnDecl *> fns_;
  std::unique_ptr<Module> module_;
  Function graph_{"model"}; // every node of the model; entries copy from it
  Builder builder_{graph_};
  // The name a node made by emit() should print as, and whether it comes from
  // a binding (`h = ...`) rather than being a temporary ("t", "c").
  struct NodeName {
    std::string name;
    bool bound = false;
  };
  std::map<const Node *, NodeName> names_;
  std::set<std::string> reported_; // "loc\nmessage" already shown
  Frame *cur_ = nullptr;
  int callDepth_ = 0;
  int calls_ = 0;
  size_t statements_ = 0; // run, loops unrolled: bounded by 4 * opts_.maxNodes
  std::vector<std::pair<std::string, Node *>> outputs_;
  std::vector<TrainEntry> trains_;
  std::map<std::string, Node *> varNodes_; // params by full name
  // Instances named with name = "...": which function made each, and where.
  struct NamedInstance {
    const FnDecl *fn;
    SourceLoc loc;
  };
  std::map<std::string, NamedInstance> named_;
  // The for loops being unrolled, innermost last: a message from a loop
  // body says which iteration it is.
  struct LoopIteration {
    std::string var;
    int64_t value;
    SourceLoc loc;
  };
  std::vector<LoopIteration> loops_;
  std::set<std::string> blamedFlags_; // -D flags already named in an error
  // Params and instances that were never made because of a reported error
  // (a statement that did not parse, a call whose arguments were invalid):
  // a dotted name under one of them is an invalid value, silently.
  std::set<std::string> poisonedNames_;
  std::set<std::string> unknownReported_; // names reported unknown, once each
  bool headerBroken_ = false;             // the model's header did not parse
  bool isPoisoned(const std::string &name) const;
  Node *dropoutStep_ = nullptr;
  int64_t dropouts_ = 0;
};

} // namespace dlc
