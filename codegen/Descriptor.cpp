#include "codegen/Descriptor.h"

#include "codegen/Layout.h"
#include "ir/OpRules.h"
#include "ir/RowIndependence.h"
#include "ir/Support.h"

#include <cstring>
#include <map>

namespace dlc::codegen {

const char *HostDescriptor::keep(const std::string &s) {
  strings_.push_back(s);
  return strings_.back().c_str();
}

dlc_tensor_desc HostDescriptor::tensor(const std::string &name, const TensorType &t) {
  dims_.emplace_back(t.dims.begin(), t.dims.end());
  dlc_tensor_desc d{};
  d.name = keep(name);
  d.dtype = t.dtype == DType::F32 ? DLC_F32 : DLC_I32;
  d.rank = (int32_t)t.rank();
  d.dims = t.rank() > 0 ? dims_.back().data() : nullptr;
  d.numel = t.numel();
  return d;
}

HostDescriptor::HostDescriptor(const Module &m) {
  const int64_t batch = modelBatch(m);
  std::map<std::string, int64_t> bounds = inputIndexBounds(m);
  std::vector<dlc_tensor_desc> &inputs = tensors_.emplace_back();
  for (const InputDecl &in : m.inputs) {
    dlc_tensor_desc d = tensor(in.name, in.type);
    auto bound = bounds.find(in.name);
    d.index_bound = bound == bounds.end() ? 0 : bound->second;
    inputs.push_back(d);
  }
  StateLayout state = layoutState(m);
  std::vector<dlc_tensor_desc> &vars = tensors_.emplace_back();
  for (size_t i = 0; i < m.vars.size(); ++i) {
    const VarDecl &v = m.vars[i];
    dlc_tensor_desc d = tensor(v.name, v.type);
    d.offset = state.offsets[i];
    d.init = v.init.kind == Init::Zeros      ? DLC_INIT_ZEROS
             : v.init.kind == Init::Constant ? DLC_INIT_CONSTANT
             : v.init.kind == Init::Normal   ? DLC_INIT_NORMAL
                                             : DLC_INIT_UNIFORM;
    d.trainable = v.trainable;
    d.init_a = (float)v.init.a;
    d.init_b = (float)v.init.b;
    vars.push_back(d);
  }
  for (const auto &f : m.functions) {
    std::vector<int32_t> &ins = entryInputs_.emplace_back();
    for (const std::string &name : f->inputNames()) {
      const InputDecl *d = m.findInput(name);
      DLC_ASSERT(d, "codegen: function " + f->name + " reads undeclared input " + name);
      ins.push_back(int32_t(d - m.inputs.data()));
    }
    std::vector<dlc_tensor_desc> &outs = tensors_.emplace_back();
    for (const auto &[name, n] : f->outputs)
      outs.push_back(tensor(name, n->type));
    dlc_entry_desc e{};
    e.name = keep(f->name);
    e.is_train = f->isTrain();
    e.rows_independent = analyzeRows(*f, batch).independent;
    e.n_inputs = (int32_t)ins.size();
    e.inputs = ins.empty() ? nullptr : ins.data();
    e.n_outputs = (int32_t)outs.size();
    e.outputs = outs.empty() ? nullptr : outs.data();
    e.arena_bytes = f->plan.arenaBytes;
    e.fn = nullptr;
    entries_.push_back(e);
  }
  desc_.abi_version = DLC_ABI_VERSION;
  desc_.name = keep(m.name);
  desc_.signature = modelSignature(m);
  desc_.batch = batch;
  desc_.n_inputs = (int32_t)inputs.size();
  desc_.inputs = inputs.empty() ? nullptr : inputs.data();
  desc_.n_vars = (int32_t)vars.size();
  desc_.vars = vars.empty() ? nullptr : vars.data();
  desc_.state_bytes = state.bytes;
  desc_.n_entries = (int32_t)entries_.size();
  desc_.entries = entries_.empty() ? nullptr : entries_.data();
}

bool loadStateImage(const Module &m, const std::string &path, std::vector<char> &image,
                    std::string &error) {
  HostDescriptor host(m);
  // Without its entries the context needs no arena or staging: the state
  // block alone, however large the model's activations.
  dlc_model_desc vars = host.desc();
  vars.n_entries = 0;
  vars.entries = nullptr;
  dlc_context *ctx = dlc_create(&vars, 0);
  if (!ctx) {
    error = dlc_error(nullptr);
    return false;
  }
  bool ok = dlc_load(ctx, path.c_str()) == DLC_OK;
  if (ok) {
    image.assign((size_t)vars.state_bytes, 0); // the padding between variables is zero
    for (int32_t v = 0; v < vars.n_vars; ++v)
      std::memcpy(image.data() + vars.vars[v].offset, dlc_var_data(ctx, v),
                  (size_t)vars.vars[v].numel * 4); // f32 or i32
  } else {
    error = dlc_error(ctx);
  }
  dlc_destroy(ctx);
  return ok;
}

} // namespace dlc::codegen
