// The dlc command: compile a model (dumps, AOT library) or train/evaluate it
// in-process through the JIT. `dlc --help` lists everything.
#include "codegen/Codegen.h"
#include "codegen/Layout.h"
#include "frontend/Frontend.h"
#include "ir/BufferIR.h"
#include "ir/Dot.h"
#include "ir/IRParser.h"
#include "ir/OpRules.h"
#include "ir/Printer.h"
#include "ir/RowIndependence.h"
#include "ir/Support.h"
#include "tools/Explain.h"
#include "ir/Verifier.h"
#include "passes/Pipeline.h"
#include "runtime/dlc_runtime.h"
#include "runtime/host/Bench.h"
#include "runtime/host/Trainer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <climits>
#include <cstdio>
#include <system_error>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <iterator>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace dlc;

namespace {

// The help text, one section per command: `dlc --help` prints them all,
// `dlc help COMMAND` and `dlc COMMAND --help` the one asked for.
const char *kSynopsis = R"(usage:
  dlc FILE [options]                  compile a model (.dl) or IR text (.ir)
  dlc train FILE --data DIR [options] compile in-process and train
  dlc eval FILE --load CKPT --data DIR | --data EXAMPLES --labels LABELS
  dlc predict FILE --data EXAMPLES --load CKPT [-o OUT.csv|OUT.npy]
  dlc bench FILE [--rounds N]         time each entry (medians of N rounds)
  dlc explain FILE -o PAGE.html       one page from the DSL lines to machine code
  dlc help [COMMAND]                  this text, or one command's options
  dlc --list-passes | --help | --version
)";

const char *kCompileHelp = R"(compile options (dlc FILE):
  -o PATH.so             write a shared library and PATH.h beside it
  --weights CKPT         (with -o) embed the variables of checkpoint CKPT in the
                         library: every context it creates starts from them
  --emit=KIND            print a stage and stop: ast, ir (after the frontend),
                         grad (after autodiff and the optimizer), opt (after
                         the graph passes), fused (the kernels fusion made),
                         memplan (buffers, schedule and arena), dot (Graphviz
                         of the last stage run), llvm (optimised LLVM IR),
                         asm (host assembly)
  -DNAME=VALUE           override a model constant, e.g. -Dbatch=32
  -O0 .. -O3             LLVM optimisation level (default -O3)
  --cpu=NAME             target CPU for -o and --emit=asm (default: this host)
  --print-before=PASS    print the IR before PASS (repeatable)
  --print-after=PASS     print the IR after PASS (repeatable)
  --print-before-all, --print-after-all
  --stop-after=PASS      run the pipeline only up to PASS
  --verify-each          run the IR verifier after every pass
  --no-fusion            one kernel per node (to compare with the fused code)
  --time-passes          print how long each pass took
)";

const char *kTrainHelp = R"(train options (dlc train FILE):
  --data DIR             IDX files: {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
                         (train: the training split, t10k: the test split)
  --epochs N             passes over the training set (default 1)
  --feed NAME=KIND       what feeds input NAME: images, labels, onehot or noise
                         (repeatable; by default guessed from its name and shape)
  --steps A,B            the train entries to run on each batch, in order
                         (default: every train entry of the model, in its order)
  --samples PATH.png     after each epoch, a grid of predict's first output:
                         reconstructions beside their inputs, or generated images
  --validate             after each epoch, evaluate on the test split and print it
  --log PATH.csv         after each epoch, write the curves so far: epoch, loss
                         (per train entry), train accuracy (a classifier), test
                         metric (with --validate), seconds
  --plot PATH.svg        after each epoch, draw those curves as an SVG
  --seed S               parameter initialisation and shuffling (default 0)
  --save PATH            save a checkpoint (variables and the run's position in
                         its data) after training, and before a step that
                         turned the loss NaN
  --every N              also save every N steps, counted from the start
  --resume PATH          go on from a checkpoint --save wrote, exactly as the
                         run would have gone on, until --epochs epochs in all
                         (a checkpoint without a position: start at epoch 1
                         with its variables); rerunning the same command
                         finishes an interrupted run
  --progress, --no-progress   redraw a progress line: epoch, step/steps, loss,
                         accuracy, samples/s, ETA, as wide as the terminal
                         (default: when stdout is a terminal; else one line
                         per epoch)
  --stop-on-nan, --no-stop-on-nan   when a step turns the loss or a variable NaN
                         or infinite, stop with the variables from before that
                         step, and save those with --save (default); or warn
                         once and go on
  --threads N            threads that run the model (default: DLC_THREADS, else
                         the number of CPUs); the results are the same bits at
                         any number
  and the compile options -D, -O, --no-fusion, --print-*, --verify-each, --time-passes
  The accuracy is that of the training step's own predictions (dropout on,
  the weights before each update), as Keras reports it; the test accuracy
  after training is printed as `test accuracy: NN.NN%`.
)";

const char *kEvalHelp = R"(eval options (dlc eval FILE):
  --load CKPT            the checkpoint to evaluate
  --data DIR             the test split of a directory of IDX files:
                         t10k-{images-idx3,labels-idx1}-ubyte[.gz]
  --data EXAMPLES        or one file of examples, as dlc predict reads them:
                         .npy, .csv or IDX (gzipped or not)
  --labels LABELS        with --data EXAMPLES: one class label per example,
                         .npy (shape [count] or [count, 1]), .csv (one per
                         line) or IDX; needed for a classifier's accuracy
  --feed, --seed, --threads, and the compile options -D, -O, --no-fusion
  It prints `test accuracy: NN.NN%` when predict's first output holds class
  scores, or `test mse: N` when it has an example's values (an autoencoder).
)";

const char *kPredictHelp = R"(predict options (dlc predict FILE):
  --data EXAMPLES        one file of examples: .npy (float32, float64, int32,
                         int64, or uint8 scaled to [0, 1]), .csv (one example
                         per line) or IDX (gzipped or not; bytes scaled to [0, 1])
  --load CKPT            the checkpoint to predict with
  -o OUT.csv|OUT.npy     write predict's first output, one row per example
                         (default: CSV on standard output)
  --feed, --seed, --threads, and the compile options -D, -O, --no-fusion
)";

const char *kBenchHelp = R"(bench options (dlc bench FILE):
  --rounds N             timed rounds per figure (default 7)
  --seed S               parameter initialisation (default 0)
  --threads N            threads that run the model (default: DLC_THREADS, else
                         the number of CPUs); the results are the same bits at
                         any number
)";

const char *kExplainHelp = R"(explain options (dlc explain FILE -o PAGE.html):
  -o PAGE.html           write one self-contained page: the DSL source, the IR
                         after each pass, the fused kernels, the memory plan
                         drawn, each kernel's assembly and the graph (with
                         Graphviz); click a line to see what it became
  and the compile options -D, -O, --cpu, --no-fusion
)";

const char *kExitCodes = R"(exit status: 0 success, 1 an error in the model, its data or a file,
  2 a usage error (unknown option, missing argument), 70 an internal error (a bug in dlc)
)";

// The help for `topic` ("" for everything); false for an unknown topic.
bool printHelp(const std::string &topic) {
  if (topic.empty()) {
    fmt::print("{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}", kSynopsis, kCompileHelp, kTrainHelp, kEvalHelp,
               kPredictHelp, kBenchHelp, kExplainHelp, kExitCodes);
    return true;
  }
  const char *section = topic == "compile"   ? kCompileHelp
                        : topic == "train"   ? kTrainHelp
                        : topic == "eval"    ? kEvalHelp
                        : topic == "predict" ? kPredictHelp
                        : topic == "bench"   ? kBenchHelp
                        : topic == "explain" ? kExplainHelp
                                             : nullptr;
  if (!section)
    return false;
  fmt::print("{}\n{}", section, kExitCodes);
  return true;
}

// The commands after `dlc`; without one, dlc compiles.
bool isCommand(const std::string &word) {
  return word == "train" || word == "eval" || word == "predict" || word == "bench" ||
         word == "explain";
}

struct Options {
  std::string command = "compile"; // compile, train, eval, predict, bench
  std::string file;
  std::string output;
  std::string emit;
  FrontendOptions frontend;
  PassOptions passes;
  PipelineOptions pipeline;
  CodegenOptions codegen;
  std::string data, labels, save, resume, load, samples, weights;
  int64_t every = 0;
  std::map<std::string, Feed> feeds;
  std::vector<std::string> steps;
  int epochs = 1;
  int rounds = 7;
  int threads = 0; // 0: the runtime's default (DLC_THREADS, else the CPUs)
  uint64_t seed = 0;
  int progress = -1; // -1: when stdout is a terminal
  bool stopOnNan = true;
  bool validate = false;
  std::string log, plot;
};

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

bool startsWith(const std::string &s, const char *prefix) {
  return s.rfind(prefix, 0) == 0;
}

int64_t parseInteger(const std::string &text, const std::string &what) {
  try {
    size_t used = 0;
    long long v = std::stoll(text, &used);
    if (used == text.size())
      return v;
  } catch (const std::exception &) {
  }
  throw UsageError(fmt::format("expected an integer for {}, got '{}'", what, text));
}

// A count such as --epochs: checked against its range here, because a
// narrowing cast would turn 4294967297 epochs into one.
int parseCount(const std::string &text, const std::string &what, int min) {
  int64_t v = parseInteger(text, what);
  if (v < min || v > INT_MAX)
    throw UsageError(fmt::format("{} must be from {} to {}, got {}", what, min, INT_MAX, text));
  return (int)v;
}

// Seeds cover all of uint64_t; stoull alone would accept "-1" as 2^64 - 1.
uint64_t parseSeed(const std::string &text) {
  try {
    size_t used = 0;
    if (!text.empty() && std::isdigit((unsigned char)text[0])) {
      unsigned long long v = std::stoull(text, &used);
      if (used == text.size())
        return v;
    }
  } catch (const std::exception &) {
  }
  throw UsageError(
      fmt::format("expected a seed from 0 to 18446744073709551615 for --seed, got '{}'", text));
}

// The commands an option means something to. Anything else is refused: an
// ignored `--load` would silently train from scratch, and `--cpu` given to
// the JIT would run another CPU's instructions on this one.
const std::map<std::string, std::set<std::string>> kOptionCommands = {
    {"-o", {"compile", "predict", "explain"}}, {"--emit", {"compile"}},
    {"--cpu", {"compile", "explain"}},      {"--weights", {"compile"}},
    {"--data", {"train", "eval", "predict"}},
    {"--epochs", {"train"}},     {"--save", {"train"}},
    {"--resume", {"train"}},     {"--load", {"eval", "predict"}},
    {"--labels", {"eval"}},
    {"--every", {"train"}},
    {"--rounds", {"bench"}},     {"--seed", {"train", "eval", "predict", "bench"}},
    {"--threads", {"train", "eval", "predict", "bench"}},
    {"--progress", {"train", "eval"}}, {"--no-progress", {"train", "eval"}},
    {"--feed", {"train", "eval", "predict"}}, {"--steps", {"train"}},
    {"--samples", {"train"}},
    {"--stop-on-nan", {"train"}}, {"--no-stop-on-nan", {"train"}},
    {"--validate", {"train"}},   {"--log", {"train"}},
    {"--plot", {"train"}},
};

std::string commandName(const std::string &command) {
  return command == "compile" ? "'dlc FILE'" : fmt::format("'dlc {}'", command);
}

Options parseArgs(int argc, char **argv) {
  Options o;
  std::vector<std::string> args(argv + 1, argv + argc);
  size_t i = 0;
  if (!args.empty() && isCommand(args[0]))
    o.command = args[i++];
  std::set<std::string> given; // options that take a value, and the --[no-] flags
  auto value = [&](const std::string &arg, const char *flag) -> std::string {
    given.insert(flag);
    std::string eq = fmt::format("{}=", flag);
    if (startsWith(arg, eq.c_str()))
      return arg.substr(eq.size());
    if (i + 1 >= args.size())
      throw UsageError(fmt::format("{} needs a value", flag));
    return args[++i];
  };
  auto is = [](const std::string &arg, const char *flag) {
    return arg == flag || startsWith(arg, fmt::format("{}=", flag).c_str());
  };
  for (; i < args.size(); ++i) {
    const std::string &a = args[i];
    if (a == "-o")
      o.output = value(a, "-o");
    else if (is(a, "--emit"))
      o.emit = value(a, "--emit");
    else if (startsWith(a, "-D")) {
      std::string def = a.size() > 2 ? a.substr(2) : value(a, "-D");
      size_t eq = def.find('=');
      if (eq == std::string::npos || eq == 0)
        throw UsageError(fmt::format("-D expects NAME=VALUE, got '{}'", def));
      o.frontend.constants[def.substr(0, eq)] =
          parseInteger(def.substr(eq + 1), fmt::format("-D{}", def.substr(0, eq)));
    } else if (a.size() == 3 && startsWith(a, "-O") && a[2] >= '0' && a[2] <= '3')
      o.codegen.optLevel = a[2] - '0';
    else if (is(a, "--cpu"))
      o.codegen.cpu = value(a, "--cpu");
    else if (is(a, "--print-before"))
      o.passes.printBefore.insert(value(a, "--print-before"));
    else if (is(a, "--print-after"))
      o.passes.printAfter.insert(value(a, "--print-after"));
    else if (a == "--print-before-all")
      o.passes.printBeforeAll = true;
    else if (a == "--print-after-all")
      o.passes.printAfterAll = true;
    else if (is(a, "--stop-after"))
      o.passes.stopAfter = value(a, "--stop-after");
    else if (a == "--verify-each")
      o.passes.verifyEach = true;
    else if (a == "--no-fusion")
      o.pipeline.fusion = false;
    else if (a == "--time-passes")
      o.passes.timePasses = true;
    else if (is(a, "--data"))
      o.data = value(a, "--data");
    else if (is(a, "--labels"))
      o.labels = value(a, "--labels");
    else if (is(a, "--epochs"))
      o.epochs = parseCount(value(a, "--epochs"), "--epochs", 0);
    else if (is(a, "--rounds"))
      o.rounds = parseCount(value(a, "--rounds"), "--rounds", 1);
    else if (is(a, "--threads"))
      o.threads = parseCount(value(a, "--threads"), "--threads", 1);
    else if (is(a, "--seed"))
      o.seed = parseSeed(value(a, "--seed"));
    else if (is(a, "--save"))
      o.save = value(a, "--save");
    else if (is(a, "--resume"))
      o.resume = value(a, "--resume");
    else if (is(a, "--every")) {
      const std::string v = value(a, "--every");
      char *end = nullptr;
      errno = 0;
      const long long n = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end || errno || n < 1)
        throw UsageError(fmt::format("--every expects a positive number of steps, got '{}'", v));
      o.every = n;
    }
    else if (is(a, "--load"))
      o.load = value(a, "--load");
    else if (is(a, "--weights"))
      o.weights = value(a, "--weights");
    else if (is(a, "--feed")) {
      std::string spec = value(a, "--feed");
      size_t eq = spec.find('=');
      Feed feed;
      if (eq == std::string::npos || eq == 0 || !parseFeed(spec.substr(eq + 1), feed))
        throw UsageError(
            fmt::format("--feed expects NAME=images|labels|onehot|noise, got '{}'", spec));
      o.feeds[spec.substr(0, eq)] = feed;
    } else if (is(a, "--steps")) {
      std::string list = value(a, "--steps");
      o.steps.clear();
      for (size_t start = 0; start <= list.size();) {
        size_t comma = std::min(list.find(',', start), list.size());
        if (comma == start)
          throw UsageError(fmt::format(
              "--steps expects train entry names separated by commas, got '{}'", list));
        o.steps.push_back(list.substr(start, comma - start));
        start = comma + 1;
      }
    } else if (is(a, "--samples"))
      o.samples = value(a, "--samples");
    else if (a == "--progress" || a == "--no-progress") {
      o.progress = a == "--progress";
      given.insert(a);
    } else if (a == "--validate") {
      o.validate = true;
      given.insert(a);
    } else if (is(a, "--log"))
      o.log = value(a, "--log");
    else if (is(a, "--plot"))
      o.plot = value(a, "--plot");
    else if (a == "--stop-on-nan" || a == "--no-stop-on-nan") {
      o.stopOnNan = a == "--stop-on-nan";
      given.insert(a);
    }
    else if (startsWith(a, "-") && a != "-")
      throw UsageError(fmt::format("unknown option '{}'", a));
    else if (o.file.empty())
      o.file = a;
    else
      throw UsageError(fmt::format("more than one input file ('{}' and '{}')", o.file, a));
  }
  if (o.file.empty())
    throw UsageError("no input file");
  static const char *kinds[] = {"",    "ast",     "ir",  "grad", "opt",
                                "fused", "memplan", "dot", "llvm", "asm"};
  bool known = false;
  for (const char *k : kinds)
    known |= o.emit == k;
  if (!known)
    throw UsageError(fmt::format(
        "unknown --emit kind '{}' (expected ast, ir, grad, opt, fused, memplan, dot, llvm or asm)",
        o.emit));
  for (const std::string &flag : given) {
    auto scope = kOptionCommands.find(flag);
    if (scope == kOptionCommands.end() || scope->second.count(o.command))
      continue; // options such as -D or --stop-after mean something everywhere
    const std::set<std::string> &commands = scope->second;
    std::vector<std::string> owners;
    for (const std::string &c : commands)
      owners.push_back(commandName(c));
    std::string hint = flag == "--load" && o.command == "train"
                           ? "; to continue training from a checkpoint use --resume"
                       : flag == "--cpu" ? "; the JIT always compiles for this host"
                                         : "";
    throw UsageError(fmt::format("{} belongs to {}, not {}{}", flag, fmt::join(owners, " or "),
                                 commandName(o.command), hint));
  }
  if (!o.weights.empty() && o.output.empty())
    throw UsageError("--weights embeds a checkpoint in a library: it needs -o PATH.so");
  if (o.command == "train" && o.data.empty())
    throw UsageError("'dlc train' needs --data DIR");
  if (o.command == "eval" && o.data.empty())
    throw UsageError("'dlc eval' needs --data DIR, or --data EXAMPLES with --labels LABELS");
  if (o.command == "eval" && o.load.empty())
    throw UsageError("'dlc eval' needs --load CKPT");
  if (o.command == "predict" && (o.data.empty() || o.load.empty()))
    throw UsageError("'dlc predict' needs --data EXAMPLES and --load CKPT");
  return o;
}

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Frontend (or IR parser for .ir files). Diagnostics go to stderr.
std::unique_ptr<Module> loadModule(const Options &o) {
  if (endsWith(o.file, ".ir")) {
    std::ifstream in(o.file, std::ios::binary);
    if (!in) {
      fmt::print(stderr, "{}: error: cannot open file: {}\n", o.file, std::strerror(errno));
      return nullptr;
    }
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    std::string error;
    auto m = parseModuleText(text, o.file, error);
    if (!m)
      fmt::print(stderr, "{}{}", error, endsWith(error, "\n") ? "" : "\n");
    return m;
  }
  return compileModelFile(o.file, std::cerr, o.frontend);
}

// The pass options that a given --emit implies.
void stopForEmit(Options &o, PassManager &pm) {
  if (o.emit == "grad" && o.passes.stopAfter.empty())
    o.passes.stopAfter = "optimizer";
  if (o.emit == "opt" && o.passes.stopAfter.empty())
    o.passes.stopAfter = "simplify";
  if (o.emit == "fused" && o.passes.stopAfter.empty())
    o.passes.stopAfter = "fusion";
  auto check = [&](const std::string &name) {
    if (pm.hasPass(name))
      return;
    std::vector<std::string> known;
    for (auto &p : pm.passes())
      known.push_back(p.name);
    throw UsageError(
        fmt::format("unknown pass '{}'; the passes are {}", name, fmt::join(known, ", ")));
  };
  if (!o.passes.stopAfter.empty())
    check(o.passes.stopAfter);
  for (auto *set : {&o.passes.printBefore, &o.passes.printAfter})
    for (auto &name : *set)
      check(name);
}

// Runs the pass pipeline; false when --stop-after cut it short.
bool runPipeline(Options &o, Module &m) {
  PassManager probe;
  addDefaultPipeline(probe, o.pipeline);
  stopForEmit(o, probe);
  PassManager pm(o.passes);
  addDefaultPipeline(pm, o.pipeline);
  return pm.run(m);
}

int compileCommand(Options &o) {
  if (o.emit == "ast")
    return dumpAst(o.file, std::cout, std::cerr) ? 0 : 1;
  auto m = loadModule(o);
  if (!m)
    return 1;
  if (o.emit == "ir" && o.passes.stopAfter.empty()) {
    std::cout << printModule(*m);
    return 0;
  }
  bool complete = runPipeline(o, *m);
  if (o.emit == "ir" || o.emit == "grad" || o.emit == "opt") {
    std::cout << printModule(*m);
    return 0;
  }
  if (o.emit == "fused" || o.emit == "memplan") {
    const std::string &stop = o.passes.stopAfter;
    bool reached = complete || stop == "memplan" || (o.emit == "fused" && stop == "fusion");
    if (!reached)
      throw UsageError(
          fmt::format("--emit={} needs the pipeline to run past '{}'", o.emit, stop));
    for (auto &f : m->functions)
      std::cout << (o.emit == "fused" ? printFused(*f) : printMemPlan(*f));
    return 0;
  }
  if (o.emit == "dot") {
    std::cout << toDot(*m);
    return 0;
  }
  if (!complete && (o.emit == "llvm" || o.emit == "asm" || !o.output.empty()))
    throw UsageError("--stop-after cannot be combined with code generation");
  std::string text, error;
  if (o.emit == "llvm" || o.emit == "asm") {
    bool ok = o.emit == "llvm" ? emitLLVMText(*m, o.codegen, text, error)
                               : emitAssembly(*m, o.codegen, text, error);
    if (!ok) {
      fmt::print(stderr, "dlc: error: {}\n", error);
      return 1;
    }
    std::cout << text;
    return 0;
  }
  if (!o.output.empty()) {
    std::string header = o.output;
    header = fmt::format("{}.h",
                         endsWith(header, ".so") ? header.substr(0, header.size() - 3) : header);
    for (const std::string &out : {o.output, header}) {
      std::error_code ec; // false, not an error, when `out` does not exist yet
      if (std::filesystem::equivalent(o.file, out, ec)) {
        fmt::print(stderr, "dlc: error: -o {} would overwrite the input file {}\n", o.output,
                   o.file);
        return 1;
      }
    }
    if (!emitSharedLibrary(*m, o.codegen, o.output, header, o.weights, error)) {
      fmt::print(stderr, "dlc: error: {}\n", error);
      return 1;
    }
    return 0;
  }
  // Neither --emit nor -o: the model was checked and taken through every
  // pass, which is all that was asked (as cc -fsyntax-only).
  return 0;
}

// The model compiled again for the rows an epoch of dlc train leaves after
// its full batches (TrainOptions::remainder), or why it could not be.
struct RemainderModel {
  std::unique_ptr<Module> module;
  std::unique_ptr<JitModel> jit;
  std::string why;
};

// The model at -Dbatch=rows, through the same passes and JIT, quietly: its
// dumps and diagnostics would repeat the model's own.
RemainderModel compileAtBatch(Options o, int64_t rows) {
  RemainderModel r;
  if (endsWith(o.file, ".ir")) {
    r.why = "a graph IR file has no batch constant to compile it at another batch";
    return r;
  }
  o.frontend.constants["batch"] = rows;
  o.passes = PassOptions();
  std::ostringstream diagnostics;
  r.module = compileModelFile(o.file, diagnostics, o.frontend);
  if (!r.module) {
    // The first diagnostic's message, without its "file:line:col: error: "
    // and the "-Dbatch=N: " this note says already.
    std::string first = diagnostics.str().substr(0, diagnostics.str().find('\n'));
    if (size_t at = first.find("error: "); at != std::string::npos)
      first = first.substr(at + 7);
    if (const std::string flag = fmt::format("-Dbatch={}: ", rows); first.rfind(flag, 0) == 0)
      first = first.substr(flag.size());
    r.why = fmt::format("at -Dbatch={}, {}", rows, first);
    return r;
  }
  runPipeline(o, *r.module);
  std::string error;
  r.jit = jitCompile(*r.module, o.codegen, error);
  if (!r.jit)
    r.why = fmt::format("at -Dbatch={}, {}", rows, error);
  return r;
}

// Compiles through the JIT and creates a context: the shared start of
// train/eval. With `remainderRows` (set by startSession's check) dlc train's
// model is also compiled at that batch, on a second thread meanwhile.
struct Session {
  std::unique_ptr<Module> module;
  std::unique_ptr<JitModel> jit;
  dlc_context *ctx = nullptr;
  int64_t remainderRows = 0;
  RemainderModel remainder;
  dlc_context *remainderCtx = nullptr;
  ~Session() {
    dlc_destroy(remainderCtx);
    dlc_destroy(ctx);
  }
};

// `check` runs after the frontend, before the passes and LLVM: what can be
// refused from the model's inputs and entries is refused in milliseconds.
bool startSession(Options &o, Session &s,
                  const std::function<bool(const Module &)> &check = nullptr) {
  auto t0 = std::chrono::steady_clock::now();
  s.module = loadModule(o);
  if (!s.module || (check && !check(*s.module)))
    return false;
  std::future<RemainderModel> remainder;
  if (s.remainderRows > 0)
    remainder = std::async(std::launch::async, compileAtBatch, o, s.remainderRows);
  double tFront = secondsSince(t0);
  auto t1 = std::chrono::steady_clock::now();
  // A model cut short before the optimizer pass would "train" without
  // updating anything.
  if (!runPipeline(o, *s.module))
    throw UsageError(fmt::format("--stop-after cannot be combined with 'dlc {}'", o.command));
  double tPasses = secondsSince(t1);
  auto t2 = std::chrono::steady_clock::now();
  std::string error;
  s.jit = jitCompile(*s.module, o.codegen, error);
  if (remainder.valid())
    s.remainder = remainder.get();
  if (!s.jit) {
    fmt::print(stderr, "dlc: error: {}\n", error);
    return false;
  }
  // dlc predict may write its CSV to stdout: the note goes beside it.
  fmt::print(o.command == "predict" ? stderr : stdout,
             "compiled {} in {:.2f} s (frontend {:.0f} ms, passes {:.0f} ms, LLVM {:.0f} ms)\n",
             o.file, secondsSince(t0), tFront * 1e3, tPasses * 1e3, secondsSince(t2) * 1e3);
  s.ctx = dlc_create(s.jit->desc(), o.seed);
  if (!s.ctx) {
    fmt::print(stderr, "dlc: error: {}\n", dlc_error(nullptr));
    return false;
  }
  if (o.threads > 0)
    dlc_set_threads(s.ctx, o.threads);
  if (s.remainder.jit) {
    s.remainderCtx = dlc_create(s.remainder.jit->desc(), o.seed);
    if (!s.remainderCtx) {
      fmt::print(stderr, "dlc: error: {}\n", dlc_error(nullptr));
      return false;
    }
    if (o.threads > 0)
      dlc_set_threads(s.remainderCtx, o.threads);
  } else if (s.remainderRows > 0) {
    fmt::print("note: the last {} examples of each epoch are not trained: {}\n",
               s.remainderRows, s.remainder.why);
  }
  // dlc train resumes itself: the checkpoint's position comes with it.
  const char *ckpt = o.command == "eval" || o.command == "predict" ? o.load.c_str() : "";
  if (*ckpt && dlc_load(s.ctx, ckpt) != DLC_OK) {
    fmt::print(stderr, "dlc: error: {}\n", dlc_error(s.ctx));
    return false;
  }
  return true;
}

// The data, loaded before anything is compiled: a missing or corrupt file is
// found out in a second, not after compiling.
bool loadData(const Options &o, Dataset *train, Dataset &test) {
  std::string error;
  if ((train && !loadMnistSplit(o.data, "train", *train, error)) ||
      !loadMnistSplit(o.data, "t10k", test, error)) {
    fmt::print(stderr, "dlc: error: {}\n", error);
    return false;
  }
  return true;
}

// dlc eval's data: the test split of a directory of IDX files, or the
// examples of one file (as dlc predict reads them) with their labels from
// another. `what` names them for the report ("test images").
bool loadEvalData(const Options &o, Dataset &test, std::string &what) {
  std::error_code ec;
  if (!std::filesystem::exists(o.data, ec)) {
    fmt::print(stderr,
               "dlc: error: --data {}: no such file or directory (expected a directory of IDX "
               "files, or a file of examples with --labels)\n",
               o.data);
    return false;
  }
  if (std::filesystem::is_directory(o.data, ec)) {
    if (!o.labels.empty())
      throw UsageError(fmt::format("--labels goes with --data EXAMPLES; the labels of a "
                                   "directory {} are its t10k-labels-idx1-ubyte[.gz]",
                                   o.data));
    what = "test images";
    return loadData(o, nullptr, test);
  }
  std::string error;
  if (!loadExamples(o.data, test, error) ||
      (!o.labels.empty() && !loadLabels(o.labels, test.labels, error))) {
    fmt::print(stderr, "dlc: error: {}\n", error);
    return false;
  }
  if (!o.labels.empty() && int64_t(test.labels.size()) != test.count) {
    fmt::print(stderr,
               "dlc: error: --data {} has {} examples but --labels {} has {} labels; expected "
               "one label per example\n",
               o.data, test.count, o.labels, test.labels.size());
    return false;
  }
  what = fmt::format("examples of {}", o.data);
  return true;
}

// Checks, from the model the frontend made, that it can be evaluated (it has
// a predict entry) and fed (planFeeds), and that the labels of `data` (from
// `labelsFrom`) are classes of the model, filling t.feeds and t.classes.
bool planModel(const Module &m, const Dataset &data, const std::string &labelsFrom,
               const Options &o, TrainOptions &t) {
  if (!m.findFunction("predict")) {
    fmt::print(stderr,
               "dlc: error: model '{}' has no predict entry (no `output`), so it cannot be "
               "evaluated on the test images; add an output such as "
               "`output probs = softmax(logits)`\n",
               m.name);
    return false;
  }
  for (const std::string &step : o.steps) {
    const Function *f = m.findFunction(step);
    if (f && f->isTrain())
      continue;
    std::vector<std::string> names;
    for (auto &fn : m.functions)
      if (fn->isTrain())
        names.push_back(fn->name);
    fmt::print(stderr,
               "dlc: error: --steps: model '{}' has no train entry '{}' (its train entries: "
               "{})\n",
               m.name, step, names.empty() ? "none" : fmt::to_string(fmt::join(names, ", ")));
    return false;
  }
  // Training needs one whole batch (an epoch's last partial batch is trained
  // by the model compiled at its rows, beside one at the full batch).
  const int64_t batch = modelBatch(m);
  if (o.command == "train" && batch > data.count) {
    auto flag = o.frontend.constants.find("batch");
    fmt::print(stderr,
               "dlc: error: the training set of {} has {} examples, fewer than one batch of "
               "{}{}\n",
               o.data, data.count, batch,
               flag != o.frontend.constants.end() ? fmt::format(" (-Dbatch={})", batch) : "");
    return false;
  }
  // --samples draws predict's first output as images of the data's size,
  // after the first epoch: an output that is no such image is refused now.
  if (!o.samples.empty()) {
    const auto &[name, node] = m.findFunction("predict")->outputs.front();
    const int64_t size = batch > 0 ? node->type.numel() / batch : 0;
    if (size != data.exampleSize() || data.imageDims.size() != 2) {
      fmt::print(stderr,
                 "dlc: error: --samples {}: predict's first output '{}' has {} values per "
                 "example, not an image of {}\n",
                 o.samples, name, size, data.exampleSize());
      return false;
    }
  }
  std::vector<InputShape> shapes;
  for (const InputDecl &in : m.inputs)
    shapes.push_back({in.name, in.type.dtype == DType::F32, in.type.dims});
  // The model's classes: the bound of the i32 labels its loss indexes with
  // (the logits' width), else as many as the labels of the data name (a
  // model fed one-hot rows).
  const std::map<std::string, int64_t> bounds = inputIndexBounds(m);
  int32_t maxLabel = 0;
  for (int32_t l : data.labels)
    maxLabel = std::max(maxLabel, l);
  t.classes = maxLabel + 1;
  for (const InputDecl &in : m.inputs)
    if (in.type.dtype == DType::I32 && bounds.count(in.name)) {
      t.classes = bounds.at(in.name);
      break;
    }
  std::string error;
  if (!planFeeds(shapes, modelBatch(m), data.exampleSize(), t.classes, o.feeds,
                 t.feeds, error)) {
    fmt::print(stderr, "dlc: error: model '{}' cannot be fed: {}\n", m.name, error);
    return false;
  }
  // A label beyond the classes would index outside the logits (the runtime
  // refuses it, after compiling) or make a one-hot row of zeros.
  for (const InputShape &in : shapes) {
    const Feed feed = t.feeds.at(in.name);
    auto bound = bounds.find(in.name);
    const int64_t classes = feed == Feed::Labels && bound != bounds.end() ? bound->second
                            : feed == Feed::OneHot ? in.dims.back()
                                                   : 0;
    if (!classes || maxLabel < classes)
      continue;
    const size_t at = size_t(std::find_if(data.labels.begin(), data.labels.end(),
                                          [&](int32_t l) { return l >= classes; }) -
                             data.labels.begin());
    fmt::print(stderr,
               "dlc: error: label {} of example {} in {} is outside the {} classes of model "
               "'{}' (input '{}' takes 0 to {})\n",
               data.labels[at], at, labelsFrom, classes, m.name, in.name, classes - 1);
    return false;
  }
  return true;
}

int evaluateAndReport(Session &s, const Dataset &test, const std::string &what,
                      const TrainOptions &t) {
  std::string error;
  EvalResult r;
  if (!evaluateModel(s.ctx, test, t, r, error)) {
    fmt::print(stderr, "dlc: error: {}\n", error);
    return 1;
  }
  if (r.metric.empty()) {
    fmt::print("no test metric: predict's first output is neither class scores nor an image "
               "to compare with its input\n");
    return 0;
  }
  fmt::print("evaluated {} {}\n", r.count, what);
  if (r.metric == "accuracy")
    fmt::print("test accuracy: {:.2f}%\n", 100 * r.value);
  else
    fmt::print("test mse: {:.6f}\n", r.value);
  return 0;
}

// Whether `path` names something that is not a regular file: a device, a
// pipe or a directory. Opening a pipe to read it would block, and dlc_save
// must never rename a file over /dev/null.
bool existsAndIsNotRegular(const std::string &path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode);
}

// dlc_save refuses to replace a file that is not a checkpoint; asking before
// training saves the user an epoch's work lost to a mistyped --save.
bool replacesForeignFile(const std::string &path) {
  if (existsAndIsNotRegular(path))
    return true;
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  if (!in || !in.read(magic, sizeof magic))
    return in.gcount() > 0; // a short non-empty file is not a checkpoint either
  return std::memcmp(magic, "DLCCKPT", sizeof magic) != 0; // with its NUL
}

// A checkpoint to load (--load): one that cannot be opened, or is no
// checkpoint at all, is refused before compiling. dlc_load checks the rest
// (the model it was saved from, its checksums) once there is a context.
bool checkpointToLoad(const std::string &flag, const std::string &path) {
  if (existsAndIsNotRegular(path)) {
    fmt::print(stderr,
               "dlc: error: {} {}: not a regular file (expected a file `dlc train --save` "
               "wrote)\n",
               flag, path);
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    fmt::print(stderr, "dlc: error: {} {}: cannot open: {}\n", flag, path, std::strerror(errno));
    return false;
  }
  if (replacesForeignFile(path) || in.peek() == EOF) {
    fmt::print(stderr,
               "dlc: error: {} {}: not a dlc checkpoint (expected a file `dlc train --save` "
               "wrote)\n",
               flag, path);
    return false;
  }
  return true;
}

// The curves are written after the first epoch; a path that cannot be
// written is better found before it.
bool writable(const std::string &flag, const std::string &path) {
  const std::string probe = fmt::format("{}.tmp", path);
  std::ofstream out(probe, std::ios::binary | std::ios::app);
  if (!out) {
    fmt::print(stderr, "dlc: error: {} {}: cannot write there: {}\n", flag, path,
               std::strerror(errno));
    return false;
  }
  out.close();
  std::remove(probe.c_str());
  return true;
}

int trainCommand(Options &o) {
  if (!o.save.empty() && replacesForeignFile(o.save)) {
    fmt::print(stderr, "dlc: error: --save {} {}; refusing to replace it\n", o.save,
               existsAndIsNotRegular(o.save) ? "is not a regular file (a device, pipe or directory)"
                                             : "exists and is not a dlc checkpoint");
    return 1;
  }
  if (!o.resume.empty() && !checkpointToLoad("--resume", o.resume))
    return 1;
  const std::pair<const char *, const std::string *> outputs[] = {
      {"--log", &o.log}, {"--plot", &o.plot}, {"--samples", &o.samples}, {"--save", &o.save}};
  for (auto [flag, path] : outputs)
    if (!path->empty() && !writable(flag, *path))
      return 1;
  Dataset train, test;
  if (!loadData(o, &train, test))
    return 1;
  TrainOptions t;
  t.epochs = o.epochs;
  t.seed = o.seed;
  t.steps = o.steps;
  t.samples = o.samples;
  t.sampleFrom = &test;
  t.progress = o.progress < 0 ? isatty(STDOUT_FILENO) : o.progress == 1;
  struct winsize terminal {};
  if (t.progress && ioctl(STDOUT_FILENO, TIOCGWINSZ, &terminal) == 0)
    t.columns = terminal.ws_col;
  t.stopOnNonFinite = o.stopOnNan;
  t.save = o.save;
  t.resume = o.resume;
  t.every = o.every;
  t.validation = o.validate ? &test : nullptr;
  t.log = o.log;
  t.plot = o.plot;
  // The training accuracy comes from the steps' own predictions.
  o.frontend.scoresInTrainEntries = true;
  Session s;
  if (!startSession(o, s, [&](const Module &m) {
        // Keras trains an epoch's last partial batch too: so does dlc, on
        // the model compiled at that many rows.
        const int64_t batch = modelBatch(m);
        s.remainderRows = batch > 0 ? train.count % batch : 0;
        return planModel(m, train, fmt::format("the training labels of {}", o.data), o, t);
      }))
    return 1;
  t.remainder = s.remainderCtx;
  std::string error;
  bool stoppedBeforeBadStep = false, finishedBefore = false;
  if (!trainModel(s.ctx, train, t, std::cout, error, &stoppedBeforeBadStep, &finishedBefore)) {
    std::cout.flush();
    fmt::print(stderr, "dlc: error: {}\n", error);
    // The training before the bad step is worth keeping: trainModel saved it.
    if (stoppedBeforeBadStep && !o.save.empty())
      fmt::print("saved {} (the variables from before that step)\n", o.save);
    return 1;
  }
  std::cout.flush();
  if (!o.save.empty() && !finishedBefore)
    fmt::print("saved {}\n", o.save);
  return evaluateAndReport(s, test, "test images", t);
}

// Whether the first output of the model's predict entry holds class scores
// rather than an example's values (an autoencoder's reconstruction): those
// need labels to be measured.
bool predictsClasses(const Module &m, int64_t exampleSize) {
  const Function *predict = m.findFunction("predict");
  if (!predict || predict->outputs.empty())
    return false;
  const TensorType &t = predict->outputs.front().second->type;
  return t.rank() == 2 && t.dims[1] != exampleSize;
}

int evalCommand(Options &o) {
  if (!checkpointToLoad("--load", o.load))
    return 1;
  Dataset test;
  std::string what;
  if (!loadEvalData(o, test, what))
    return 1;
  TrainOptions t;
  t.seed = o.seed;
  Session s;
  if (!startSession(o, s, [&](const Module &m) {
        if (test.labels.empty() && predictsClasses(m, test.exampleSize()))
          throw UsageError(fmt::format("model '{}' predicts classes ('{}'): its accuracy on "
                                       "--data {} needs their labels, --labels LABELS",
                                       m.name, m.findFunction("predict")->outputs.front().first,
                                       o.data));
        return planModel(m, test, o.labels.empty() ? o.data : o.labels, o, t);
      }))
    return 1;
  return evaluateAndReport(s, test, what, t);
}

int predictCommand(Options &o) {
  if (!o.output.empty() && !(endsWith(o.output, ".csv") || endsWith(o.output, ".npy"))) {
    fmt::print(stderr, "dlc: error: -o {}: expected a .csv or .npy file name for the "
                       "predictions\n",
               o.output);
    return 1;
  }
  if (!checkpointToLoad("--load", o.load) || (!o.output.empty() && !writable("-o", o.output)))
    return 1;
  Dataset examples;
  std::string error;
  if (!loadExamples(o.data, examples, error)) {
    fmt::print(stderr, "dlc: error: {}\n", error);
    return 1;
  }
  TrainOptions t;
  t.seed = o.seed;
  Session s;
  if (!startSession(o, s, [&](const Module &m) { return planModel(m, examples, "", o, t); }))
    return 1;
  std::vector<float> values;
  std::vector<int64_t> dims;
  if (!predictAll(s.ctx, examples, t, values, dims, error)) {
    fmt::print(stderr, "dlc: error: {}\n", error);
    return 1;
  }
  if (o.output.empty()) {
    std::cout << examplesCsv(values, examples.count, dims) << std::flush;
    return 0;
  }
  if (!writeExamples(o.output, values, examples.count, dims, error)) {
    fmt::print(stderr, "dlc: error: {}\n", error);
    return 1;
  }
  fmt::print("wrote {} predictions to {}\n", examples.count, o.output);
  return 0;
}

// "812 ns", "254.1 us", "1.94 ms": three or four significant digits.
std::string duration(double seconds) {
  if (seconds < 1e-6)
    return fmt::format("{:.0f} ns", seconds * 1e9);
  if (seconds < 1e-3)
    return fmt::format("{:.1f} us", seconds * 1e6);
  return fmt::format("{:.2f} ms", seconds * 1e3);
}

int benchCommand(Options &o) {
  Session s;
  if (!startSession(o, s))
    return 1;
  BenchOptions b;
  b.rounds = o.rounds;
  b.seed = o.seed;
  // At one thread and at the default (or --threads) count: what threads
  // buy is the figure a reader looks for.
  const int threads = dlc_threads(s.ctx);
  b.threads = {1};
  if (o.threads > 0)
    b.threads = {o.threads};
  else if (threads > 1)
    b.threads.push_back(threads);
  std::vector<BenchFigure> figures;
  std::string error;
  if (!benchModel(s.ctx, b, figures, error)) {
    fmt::print(stderr, "dlc: error: {}\n", error);
    return 1;
  }
  fmt::print("{:<10} {:>6} {:>7} {:>12} {:>14}   {}\n", "entry", "rows", "threads", "median",
             "rows/s", "spread over rounds");
  for (const BenchFigure &f : figures)
    fmt::print("{:<10} {:>6} {:>7} {:>12} {:>14.0f}   min {}, max {}, {} rounds x {} calls\n",
               f.entry, f.rows, f.threads, duration(f.median), f.rows / f.median,
               duration(f.min), duration(f.max), o.rounds, f.callsPerRound);
  return 0;
}

int listPasses() {
  PassManager pm;
  addDefaultPipeline(pm);
  for (auto &p : pm.passes())
    fmt::print("{:<12} {}\n", p.name, p.description);
  return 0;
}

} // namespace

int explainCommand(Options &o) {
  if (o.output.empty())
    throw UsageError("'dlc explain' needs -o PAGE.html");
  std::ifstream src(o.file, std::ios::binary);
  std::stringstream text;
  text << src.rdbuf();
  auto m = loadModule(o);
  if (!m)
    return 1;
  ExplainInput in{o.file, text.str(), o.pipeline, o.codegen};
  std::string error;
  std::string page = explainPage(in, *m, error);
  if (page.empty()) {
    fmt::print(stderr, "dlc: error: {}\n", error);
    return 1;
  }
  std::ofstream out(o.output, std::ios::binary);
  out << page;
  out.close();
  if (!out) {
    fmt::print(stderr, "dlc: error: cannot write {}: {}\n", o.output, std::strerror(errno));
    return 1;
  }
  fmt::print("wrote {} ({} KiB)\n", o.output, page.size() / 1024);
  return 0;
}

namespace {

int run(int argc, char **argv) {
  if (argc == 2 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h"))) {
    printHelp("");
    return 0;
  }
  if (argc >= 2 && !std::strcmp(argv[1], "help")) {
    if (argc > 3) {
      fmt::print(stderr, "dlc: error: 'dlc help' takes at most one command (see dlc --help)\n");
      return 2;
    }
    if (printHelp(argc == 3 ? argv[2] : ""))
      return 0;
    fmt::print(stderr,
               "dlc: error: no help for '{}' (the commands are compile, train, eval, predict, "
               "bench and explain)\n",
               argv[2]);
    return 2;
  }
  // `dlc train --help`, `dlc bench FILE -h`: that command's help, whatever
  // else is on the line.
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      printHelp(isCommand(argv[1]) ? argv[1] : "compile");
      return 0;
    }
  if (argc == 2 && !std::strcmp(argv[1], "--version")) {
    fmt::print("dlc {} (LLVM 19)\n", DLC_VERSION); // DLC_VERSION: project(dlc VERSION ...)
    return 0;
  }
  if (argc == 2 && !std::strcmp(argv[1], "--list-passes"))
    return listPasses();
  try {
    Options o = parseArgs(argc, argv);
    // A directory opens as an empty stream on Linux and would be reported as
    // a file with no model in it.
    struct stat st;
    if (stat(o.file.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      fmt::print(stderr, "dlc: error: {} is a directory, not a model file\n", o.file);
      return 1;
    }
    if (o.command == "train")
      return trainCommand(o);
    if (o.command == "eval")
      return evalCommand(o);
    if (o.command == "predict")
      return predictCommand(o);
    if (o.command == "bench")
      return benchCommand(o);
    if (o.command == "explain")
      return explainCommand(o);
    return compileCommand(o);
  } catch (const UsageError &e) {
    fmt::print(stderr, "dlc: error: {} (see dlc --help)\n", e.what());
    return 2;
  } catch (const CompileError &e) {
    fmt::print(stderr, "{}\n", e.what());
    return 1;
  } catch (const InternalError &e) {
    fmt::print(stderr,
               "dlc: internal compiler error: {}\nThis is a bug in dlc, not in your model; "
               "please report it with the input that caused it.\n",
               e.what());
    return 70;
  } catch (const std::bad_alloc &) {
    fmt::print(stderr, "dlc: error: out of memory\n");
    return 1;
  }
}

} // namespace

int main(int argc, char **argv) {
  std::ios::sync_with_stdio(true); // std::cout and fmt::print share stdout's buffer
  int rc;
  try {
    rc = run(argc, argv);
  } catch (const std::system_error &e) { // fmt::print to a stream it cannot write
    std::fprintf(stderr, "dlc: error: cannot write the output: %s\n",
                 e.code().message().c_str());
    return 1;
  }
  // What dlc printed must have reached its file: a full disk is an error,
  // not an IR dump or a predictions file silently cut short.
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    std::fprintf(stderr, "dlc: error: cannot write to standard output: %s\n",
                 std::strerror(errno));
    return rc == 0 ? 1 : rc;
  }
  return rc;
}
