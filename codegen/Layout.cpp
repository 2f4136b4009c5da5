// State layout, model signature and batch size, C API names.
#include "codegen/Layout.h"
#include "ir/Support.h"

#include <fmt/format.h>

#include <cctype>
#include <map>
#include <set>

namespace dlc::codegen {

int64_t StateLayout::offsetOf(const Module &m, const std::string &var) const {
  for (size_t i = 0; i < m.vars.size(); ++i)
    if (m.vars[i].name == var)
      return offsets[i];
  internalError(fmt::format("codegen: unknown variable '{}'", var));
}

StateLayout layoutState(const Module &m) {
  StateLayout s;
  for (const VarDecl &v : m.vars) {
    s.offsets.push_back(s.bytes);
    s.bytes += alignUp(v.type.bytes());
  }
  return s;
}

namespace {
std::string gib(int64_t bytes) {
  return fmt::format("{:.1f} GiB", double(bytes) / double(int64_t(1) << 30));
}
} // namespace

std::string memoryLimitProblem(const Module &m) {
  StateLayout state = layoutState(m);
  if (state.bytes > kMaxStateBytes) {
    const VarDecl *largest = &m.vars[0];
    for (const VarDecl &v : m.vars)
      if (v.type.bytes() > largest->type.bytes())
        largest = &v;
    return fmt::format("model '{}' needs {} for its variables (params and optimizer state), "
                       "more than dlc's limit of {}; the largest is '{}' {}, {}",
                       m.name, gib(state.bytes), gib(kMaxStateBytes), largest->name,
                       largest->type.str(), gib(largest->type.bytes()));
  }
  for (const auto &f : m.functions)
    if (f->plan.arenaBytes > kMaxArenaBytes)
      return fmt::format("entry '{}' of model '{}' needs {} of scratch memory for its "
                         "intermediates, more than dlc's limit of {} (a smaller batch?)",
                         f->name, m.name, gib(f->plan.arenaBytes), gib(kMaxArenaBytes));
  return "";
}

namespace {
struct Fnv1a {
  uint64_t h = 1469598103934665603ull;
  void byte(uint8_t b) { h = (h ^ b) * 1099511628211ull; }
  void bytes(const void *p, size_t n) {
    for (size_t i = 0; i < n; ++i)
      byte(static_cast<const uint8_t *>(p)[i]);
  }
  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i)
      byte(uint8_t(v >> (8 * i)));
  }
};
} // namespace

uint64_t modelSignature(const Module &m) {
  Fnv1a f;
  for (const VarDecl &v : m.vars) {
    f.bytes(v.name.c_str(), v.name.size() + 1);
    f.le(uint32_t(v.type.dtype == DType::F32 ? 0 : 1), 4); // DLC_F32 / DLC_I32
    f.le(uint32_t(v.type.rank()), 4);
    for (int64_t d : v.type.dims)
      f.le(uint64_t(d), 8);
  }
  return f.h;
}

std::string cIdentifier(const std::string &name) {
  std::string s;
  for (char c : name)
    s += (isalnum((unsigned char)c) || c == '_') ? c : '_';
  if (s.empty() || isdigit((unsigned char)s[0]))
    s = "_" + s;
  return s;
}

bool isReservedCName(const std::string &id) {
  static const std::set<std::string> reserved = {
      // C11 and C23 keywords
      "auto", "break", "case", "char", "const", "continue", "default", "do", "double",
      "else", "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long",
      "register", "restrict", "return", "short", "signed", "sizeof", "static", "struct",
      "switch", "typedef", "union", "unsigned", "void", "volatile", "while", "alignas",
      "alignof", "bool", "constexpr", "false", "nullptr", "static_assert", "thread_local",
      "true", "typeof", "typeof_unqual",
      // C++ keywords and alternative tokens (the header is extern "C" for C++)
      "and", "and_eq", "asm", "bitand", "bitor", "catch", "char8_t", "char16_t",
      "char32_t", "class", "compl", "concept", "consteval", "constinit", "const_cast",
      "co_await", "co_return", "co_yield", "decltype", "delete", "dynamic_cast",
      "explicit", "export", "friend", "mutable", "namespace", "new", "noexcept", "not",
      "not_eq", "operator", "or", "or_eq", "private", "protected", "public",
      "reinterpret_cast", "requires", "static_cast", "template", "this", "throw", "try",
      "typeid", "typename", "using", "virtual", "wchar_t", "xor", "xor_eq",
      // names from <stddef.h>, <stdint.h> and dlc_abi.h, which the header includes
      "NULL", "offsetof", "size_t", "ptrdiff_t", "max_align_t", "int8_t", "int16_t",
      "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t", "intptr_t",
      "uintptr_t", "intmax_t", "uintmax_t", "dlc_tensor_desc", "dlc_entry_desc",
      "dlc_model_desc", "dlc_entry_fn", "dlc_exec", "dlc_task_fn"};
  return reserved.count(id) != 0;
}

std::vector<ApiEntry> apiEntries(const Module &m) {
  std::vector<ApiEntry> out;
  std::string prefix = cIdentifier(m.name) + "_";
  for (size_t i = 0; i < m.functions.size(); ++i) {
    const Function &f = *m.functions[i];
    out.push_back({prefix + cIdentifier(f.name), &f, (int)i, !f.isTrain()});
  }
  return out;
}

FixedSymbols apiFixedSymbols(const Module &m) {
  std::string p = cIdentifier(m.name) + "_";
  return {p + "create",      p + "create_in", p + "destroy",
          p + "save",        p + "load",      p + "get_param",
          p + "set_param",   p + "set_threads", p + "error",
          p + "metadata"};
}

bool checkApiNames(const Module &m, std::string &error) {
  std::string id = cIdentifier(m.name);
  if (isReservedCName(id)) {
    error = fmt::format("model '{0}' cannot be compiled to a library: its header would declare "
                        "`typedef struct {1} {1};`, and {1} is reserved in C or C++; rename "
                        "the model", m.name, id);
    return false;
  }
  // model.so links the runtime; a C API function of the same name would be
  // renamed by LLVM and the header's prototype would name nothing.
  static const std::set<std::string> runtime = {
      "dlc_create",     "dlc_create_in", "dlc_context_bytes",   "dlc_destroy",
      "dlc_run",        "dlc_find_entry", "dlc_find_var",       "dlc_get_var",
      "dlc_set_var",    "dlc_set_state", "dlc_copy_state",      "dlc_save",
      "dlc_save_host",  "dlc_load",      "dlc_read_host_state", "dlc_error",
      "dlc_model",      "dlc_var_data",  "dlc_context",         "dlc_set_threads",
      "dlc_threads"};
  for (const std::string &s : apiFixedSymbols(m).all())
    if (runtime.count(s)) {
      error = fmt::format("model '{}' would define the C function {}, which is the dlc "
                          "runtime's own; rename the model", m.name, s);
      return false;
    }
  // <M>_<NAME>_SIZE for every input and output: two different names must
  // not become one macro ("x" and "X", "label.ids" and "label_ids").
  auto upper = [](std::string s) {
    for (char &c : s)
      c = (char)toupper((unsigned char)c);
    return s;
  };
  std::map<std::string, std::string> macros; // macro stem -> the DSL name
  auto macro = [&](const std::string &name) {
    std::string stem = upper(cIdentifier(name));
    auto [it, fresh] = macros.emplace(stem, name);
    if (fresh || it->second == name)
      return true;
    error = fmt::format("'{}' and '{}' of model '{}' would both define the header macro "
                        "{}_{}_SIZE; rename one", it->second, name, m.name, upper(id), stem);
    return false;
  };
  for (const InputDecl &in : m.inputs)
    if (!macro(in.name))
      return false;
  for (const auto &f : m.functions)
    for (const auto &[name, node] : f->outputs)
      if (!macro(name))
        return false;
  std::set<std::string> seen;
  for (const std::string &s : apiFixedSymbols(m).all())
    seen.insert(s);
  for (const ApiEntry &e : apiEntries(m))
    if (!seen.insert(e.symbol).second || runtime.count(e.symbol) ||
        isReservedCName(e.symbol)) {
      error = fmt::format("entry '{}' of model '{}' would define the C function {}, which is "
                          "already taken; rename the entry", e.fn->name, m.name, e.symbol);
      return false;
    }
  return true;
}

} // namespace dlc::codegen
